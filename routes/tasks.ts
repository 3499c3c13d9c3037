/**
 * GET /tasks/{id}: HTTP in, one call into the task service, HTTP out (ETag, Cache-Control,
 * long-poll through `?wait` or `Prefer: wait`).
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GatewayError } from '../src/errors.js';
import type { TaskService } from '../src/tasks/service.js';
import { z } from 'zod';
import { TASK_EXAMPLES } from '../schemas/examples.js';
import { MAX_WAIT_SECONDS, TaskParamsSchema, TaskRequestHeadersSchema, WaitQuerySchema } from '../schemas/params.js';
import { isTerminal, serializeTask, TaskSchema, type Task } from '../schemas/task.js';
import { CLIENT_AUTH, jsonResponse, REQUEST_ID_HEADER } from './documentation.js';
import { problemResponses } from './problem-responses.js';

export interface TaskRoutesOptions {
  service: TaskService;
  terminalMaxAgeSeconds: number;
}

interface WaitPreference {
  seconds: number;
  /** The wait came from `Prefer`, so `Preference-Applied` must say it was honoured. */
  fromPrefer: boolean;
}

/** RFC 7240: `Prefer: respond-async, wait=10` — find the `wait` preference, if any. */
export function preferredWait(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  for (const preference of header.split(',')) {
    const [token] = preference.split(';');
    const match = /^\s*wait\s*=\s*"?([^"\s]*)"?\s*$/i.exec(token ?? '');
    if (match === null) continue;
    const value = match[1] ?? '';
    const seconds = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
    if (!(seconds >= 0 && seconds <= MAX_WAIT_SECONDS)) {
      throw new GatewayError('invalid_request', {
        detail: `Prefer: wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}.`,
      });
    }
    return seconds;
  }
  return undefined;
}

/**
 * `wait` is a plain decimal integer. The schema's number coercion would also take `0x10`,
 * `1e1`, `+5` or an empty string; this runs on the raw query first so those are a 400.
 */
export function assertPlainWait(query: unknown): void {
  const raw = (query as Record<string, unknown> | undefined)?.wait;
  if (raw === undefined || (typeof raw === 'string' && /^\d{1,9}$/.test(raw))) return;
  throw new GatewayError('invalid_request', {
    detail: `wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}, given once.`,
  });
}

export function resolveWait(query: number | undefined, prefer: string | undefined): WaitPreference {
  if (query !== undefined) return { seconds: query, fromPrefer: false };
  const fromHeader = preferredWait(prefer);
  return fromHeader === undefined ? { seconds: 0, fromPrefer: false } : { seconds: fromHeader, fromPrefer: true };
}

/** An AbortSignal that fires when the client hangs up before we answer. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function etagOf(payload: string): string {
  return `"${createHash('sha1').update(payload).digest('base64url')}"`;
}

function matchesIfNoneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

interface Rendered {
  body: string;
  etag: string;
}

/** JSON and ETag of each Task object; a cached task is the same object, so it is rendered once. */
const renderings = new WeakMap<Task, Rendered>();

function render(task: Task): Rendered {
  let rendered = renderings.get(task);
  if (rendered === undefined) {
    const body = serializeTask(task);
    rendered = { body, etag: etagOf(body) };
    renderings.set(task, rendered);
  }
  return rendered;
}

/** Sends a Task with its ETag, or a 304 when the client already has this version. */
export function sendTask(request: FastifyRequest, reply: FastifyReply, task: Task): FastifyReply {
  const { body, etag } = render(task);
  reply.header('etag', etag);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && matchesIfNoneMatch(ifNoneMatch, etag)) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(body);
}

export function setTaskCacheHeaders(reply: FastifyReply, task: Task, terminalMaxAgeSeconds: number): void {
  // Terminal tasks never change again; others must be revalidated (ETag makes that cheap).
  reply.header('cache-control', isTerminal(task.status) ? `private, max-age=${terminalMaxAgeSeconds}` : 'no-cache');
}

const taskRoutes: FastifyPluginAsyncZod<TaskRoutesOptions> = async (app, options) => {
  const { service, terminalMaxAgeSeconds } = options;

  app.addHook('preValidation', (request, _reply, done) => {
    assertPlainWait(request.query);
    done();
  });

  app.get(
    '/tasks/:id',
    {
      schema: {
        operationId: 'getTask',
        tags: ['tasks'],
        summary: 'Get the normalized status of a task',
        description:
          'Routes the id to its provider and answers in the normalized `Task` shape. A failed task is a 200 with `status: failed`. With `?wait=N` or `Prefer: wait=N` the request is held until the task is terminal or N seconds pass.',
        security: CLIENT_AUTH,
        params: TaskParamsSchema,
        querystring: WaitQuerySchema,
        headers: TaskRequestHeadersSchema,
        response: {
          200: jsonResponse(
            TaskSchema,
            'The task in the normalized shape: its current state, or with `wait` its state when it became terminal or the wait ended.',
            {
              examples: TASK_EXAMPLES,
              headers: {
                etag: { type: 'string', description: 'Validator of this answer, for `If-None-Match`' },
                'cache-control': {
                  type: 'string',
                  description: '`private, max-age=…` for terminal tasks (they never change again), `no-cache` otherwise',
                },
                'preference-applied': { type: 'string', description: '`wait=N` when a `Prefer: wait=N` was honoured' },
                'x-request-id': REQUEST_ID_HEADER,
              },
            },
          ),
          304: z.null().describe('Not Modified: the `If-None-Match` ETag still matches the task'),
          ...problemResponses([400, 401, 404, 429, 502, 503, 504]),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const wait = resolveWait(request.query.wait, request.headers.prefer);
      const task =
        wait.seconds > 0
          ? await service.waitForTask(id, { waitMs: wait.seconds * 1000, signal: clientGone(reply) })
          : await service.getTask(id);
      if (wait.fromPrefer) reply.header('preference-applied', `wait=${wait.seconds}`);
      setTaskCacheHeaders(reply, task, terminalMaxAgeSeconds);
      return sendTask(request, reply, task);
    },
  );
};

export default taskRoutes;
