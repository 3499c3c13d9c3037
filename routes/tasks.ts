/**
 * GET /tasks/{id}: HTTP in, one call into the task service, HTTP out (ETag, Cache-Control,
 * long-poll through `?wait` or `Prefer: wait`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { defaultRoutes } from '../src/routing.js';
import { GatewayError } from '../src/errors.js';
import { PROVIDERS } from '../src/providers/index.js';
import type { TaskSnapshot } from '../src/tasks/render.js';
import type { TaskService } from '../src/tasks/service.js';
import { TASK_EXAMPLES } from '../schemas/examples.js';
import { LinkTokenQuerySchema } from '../schemas/links.js';
import { preferredWait, TaskParamsSchema, TaskRequestHeadersSchema, WAIT_RULE, WaitQuerySchema } from '../schemas/params.js';
import { TaskSchema } from '../schemas/task.js';
import { LINK_AUTH, jsonResponse, REQUEST_ID_HEADER } from './documentation.js';
import { problemResponses, TASK_LOOKUP_CODES } from './problem-responses.js';
import { clientOf } from '../src/client-identity.js';
import { ageOf, clientGone, sendTask, LINKED_TASK_ROUTE_CONFIG, viewContext, type ViewSettings } from './task-replies.js';

export interface TaskRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  terminalMaxAgeSeconds: number;
}

interface WaitPreference {
  seconds: number;
  /** The wait came from `Prefer`, so `Preference-Applied` must say it was honoured. */
  fromPrefer: boolean;
}

/** with both the query and `Prefer`, the query wins. */
const NO_WAIT: WaitPreference = Object.freeze({ seconds: 0, fromPrefer: false });

export function resolveWait(query: number | undefined, prefer: string | undefined): WaitPreference {
  if (query !== undefined) return { seconds: query, fromPrefer: false };
  const fromHeader = preferredWait(prefer);
  if (!fromHeader.ok) throw new GatewayError('invalid_request', { detail: `Prefer: ${WAIT_RULE}.` });
  return fromHeader.seconds === undefined ? NO_WAIT : { seconds: fromHeader.seconds, fromPrefer: true };
}

/** The default rule table, as the operation's description shows it. */
function routingDescription(): string {
  const rows = defaultRoutes(PROVIDERS).map((rule) => {
    const matcher = rule.prefix !== undefined ? `\`${rule.prefix}…\`` : `ids matching \`${rule.pattern}\``;
    return `- ${matcher} → ${rule.providers.map((name) => `\`${name}\``).join(', then ')}`;
  });
  return [
    'A bare id is routed by the rule table (the defaults below; an operator may replace them). Several candidates make the id ambiguous: they are asked at once and the first, in this order, that has the task wins. `<provider>:<native id>` always goes to that provider.',
    ...rows,
  ].join('\n');
}

const taskRoutes: FastifyPluginAsyncZod<TaskRoutesOptions> = async (app, options) => {
  const { service, views, terminalMaxAgeSeconds } = options;

  const answer = (request: FastifyRequest, reply: FastifyReply, wait: WaitPreference, snapshot: TaskSnapshot, askedAt: number) => {
    if (wait.fromPrefer) reply.header('preference-applied', `wait=${wait.seconds}`);
    sendTask(request, reply, service.render(snapshot, viewContext(request, views)), terminalMaxAgeSeconds, ageOf(snapshot, askedAt));
  };

  app.get(
    '/tasks/:id',
    {
      config: { ...LINKED_TASK_ROUTE_CONFIG, held: (request) => (request.query as { wait?: unknown }).wait !== undefined || request.headers.prefer !== undefined },
      schema: {
        operationId: 'getTask',
        tags: ['tasks'],
        summary: 'Get the normalized status of a task',
        description: [
          'Routes the id to its provider and answers in the normalized `Task` shape. A failed task is a 200 with `status: failed`. With `?wait=N` or `Prefer: wait=N` the request is held until the task is terminal or N seconds pass.',
          routingDescription(),
        ].join('\n\n'),
        security: LINK_AUTH,
        params: TaskParamsSchema,
        querystring: WaitQuerySchema.extend(LinkTokenQuerySchema.shape),
        headers: TaskRequestHeadersSchema,
        response: {
          200: jsonResponse(
            TaskSchema,
            'The task in the normalized shape: its current state, or with `wait` its state when it became terminal or the wait ended.',
            {
              examples: TASK_EXAMPLES,
              headers: {
                etag: {
                  type: 'string',
                  description: 'Validator of this answer, for `If-None-Match`; weak (`W/…`) while the task runs, since only the `poll_after_ms` countdown differs',
                },
                'cache-control': {
                  type: 'string',
                  description: '`private, max-age=…` for terminal tasks (they never change again), `no-cache` otherwise',
                },
                'preference-applied': { type: 'string', description: '`wait=N` when a `Prefer: wait=N` was honoured' },
                age: {
                  type: 'integer',
                  description:
                    'Seconds since a running task\'s answer was fetched from its provider, when it is a reused one; its `poll_after_ms` counts down to the next refresh',
                },
                'x-request-id': REQUEST_ID_HEADER,
              },
            },
          ),
          304: z.null().describe('Not Modified: the `If-None-Match` ETag still matches the task'),
          ...problemResponses([...TASK_LOOKUP_CODES, 'quota_exceeded']),
        },
      },
    },
    (request, reply) => {
      const askedAt = Date.now();
      const { id } = request.params;
      const wait = resolveWait(request.query.wait, request.headers.prefer);
      const route = service.router.resolve(id);
      if (wait.seconds === 0) {
        // A finished task this replica holds is answered at once, without a promise or a closure (the hot path).
        const cached = service.cachedTask(id, route);
        if (cached !== undefined) {
          answer(request, reply, wait, cached, askedAt);
          return;
        }
      }
      const pending =
        wait.seconds > 0
          ? service.waitForTask(id, { waitMs: wait.seconds * 1000, signal: clientGone(reply), client: clientOf(request) }, route)
          : service.getTask(id, route);
      return pending.then((snapshot) => {
        answer(request, reply, wait, snapshot, askedAt);
      });
    },
  );
};

export default taskRoutes;
