/**
 * POST /tasks/batch: the status of up to 100 tasks in one request, for dashboards. Every
 * distinct id is one `getTask` call, so the routing, single flight and caches of
 * GET /tasks/{id} apply unchanged; one id's failure becomes that id's problem item. At most
 * `maxConcurrentLookups` ids are looked up at once (one batch cannot start 200 upstream
 * calls together); the others wait for a free lookup within the batch's budget. A batch of
 * N ids costs N against the rate limit. Tasks are rendered by the same renderer as GET,
 * and the answer is written from those renderings rather than serialized again.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GatewayError, toGatewayError, toProblem, type Problem } from '../src/errors.js';
import type { TaskService } from '../src/tasks/service.js';
import { BatchRequestSchema, BatchResultSchema, MAX_BATCH_IDS } from '../schemas/batch.js';
import { BATCH_RESULT_EXAMPLE } from '../schemas/examples.js';
import { CLIENT_AUTH, jsonResponse, REQUEST_ID_HEADER } from './documentation.js';
import { refuseUndecodableBody } from './json-body.js';
import { problemResponses } from './problem-responses.js';
import { clientGone, viewContext, type ViewSettings } from './task-replies.js';

export interface BatchRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  /** Ids of one batch looked up at once. */
  maxConcurrentLookups: number;
  /** How long after the batch arrived an id may still start its lookup (UPSTREAM_TIMEOUT_MS). */
  budgetMs: number;
}

const outOfBudget = () =>
  new GatewayError('upstream_timeout', {
    detail: 'Not looked up: the batch used up its time budget (UPSTREAM_TIMEOUT_MS) before this id got its turn; ask for it again.',
  });

/** One result: the task's JSON as rendered for GET, or the problem GET would have answered. */
type BatchOutcome = { id: string; json: string } | { id: string; problem: Problem };

function itemJson(outcome: BatchOutcome): string {
  const id = JSON.stringify(outcome.id);
  return 'json' in outcome ? `{"id":${id},"ok":true,"task":${outcome.json}}` : `{"id":${id},"ok":false,"problem":${JSON.stringify(outcome.problem)}}`;
}

/** Runs at most `limit` of the started tasks at once; the others wait their turn, in order. */
function concurrencyLimit(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return (task) =>
    new Promise((resolve, reject) => {
      const run = () => {
        running++;
        task()
          .then(resolve, reject)
          .finally(() => {
            running--;
            waiting.shift()?.();
          });
      };
      if (running < limit) run();
      else waiting.push(run);
    });
}

const batchRoutes: FastifyPluginAsyncZod<BatchRoutesOptions> = async (app, options) => {
  const { service, views, maxConcurrentLookups, budgetMs } = options;
  // The body must be JSON: a text/plain body is a 415, not a string the schema then refuses.
  app.removeContentTypeParser('text/plain');

  app.post(
    '/tasks/batch',
    {
      onRequest: refuseUndecodableBody,
      config: { rateLimitWeight: (request: FastifyRequest) => (request.body as { ids: readonly string[] }).ids.length },
      schema: {
        operationId: 'batchGetTasks',
        tags: ['tasks'],
        summary: 'Get the normalized status of many tasks at once',
        description: [
          `Looks up 1-${MAX_BATCH_IDS} task ids concurrently, exactly as \`GET /tasks/{id}\` would (same routing, shared upstream calls, same caches), and answers with one result per id in request order.`,
          'A result is `{"id", "ok": true, "task"}` or `{"id", "ok": false, "problem"}`: an invalid, unknown or unreachable id only affects its own result, so the batch itself is a 200 whenever the request is well formed.',
          'Repeated ids are looked up once. At most `batch.maxConcurrentLookups` ids (10 by default) are looked up at once; the others wait their turn, and an id that could not start within `UPSTREAM_TIMEOUT_MS` of the batch\'s arrival gets an `upstream_timeout` result. There is no `wait`: poll again after the smallest `poll_after_ms` among the tasks still running.',
          'A batch of N ids counts N requests against the rate limit (429 `rate_limited` when fewer remain).',
          'The body must be `application/json` in UTF-8, not compressed: another media type, a `Content-Encoding` or another charset is a 415 `unsupported_media_type`.',
        ].join('\n\n'),
        security: CLIENT_AUTH,
        body: BatchRequestSchema,
        response: {
          200: jsonResponse(BatchResultSchema, 'One result per requested id, in request order', {
            examples: { mixed: { summary: 'Two tasks found, one unknown id, one malformed id', value: BATCH_RESULT_EXAMPLE } },
            headers: { 'x-request-id': REQUEST_ID_HEADER },
          }),
          ...problemResponses(['invalid_request', 'unauthorized', 'rate_limited'], [413, 415]),
        },
      },
    },
    async (request, reply) => {
      const context = viewContext(request, views);
      const deadline = Date.now() + budgetMs;
      const gone = clientGone(reply);
      const lookup = concurrencyLimit(maxConcurrentLookups);
      const outcomeFor = async (id: string): Promise<BatchOutcome> => {
        // Checked when the id's turn comes: past the budget (or with the client gone) it is not started.
        if (Date.now() >= deadline || gone.aborted) return { id, problem: toProblem(outOfBudget(), request.id) };
        try {
          return { id, json: service.render(await service.getTask(id), context).json };
        } catch (error) {
          const gatewayError = toGatewayError(error);
          // Anything but a GatewayError is a bug: that id gets an internal_error, the stack goes to the log.
          if (gatewayError.code === 'internal_error') request.log.error({ err: error }, 'batch lookup failed unexpectedly');
          return { id, problem: toProblem(gatewayError, request.id) };
        }
      };
      const { ids } = request.body;
      const outcomes = new Map<string, Promise<BatchOutcome>>();
      for (const id of ids) if (!outcomes.has(id)) outcomes.set(id, lookup(() => outcomeFor(id)));
      const results = await Promise.all(ids.map((id) => outcomes.get(id)!));
      logFailures(results, request.log);
      // Already JSON, made of the same renderings GET sends: not serialized again.
      return (reply as FastifyReply).type('application/json; charset=utf-8').send(`{"results":[${results.map(itemJson).join(',')}]}`);
    },
  );
};

/** One line per batch with the 5xx codes it met, where a single GET would log one per request. */
function logFailures(results: readonly BatchOutcome[], log: FastifyBaseLogger): void {
  const failures: Record<string, number> = {};
  for (const outcome of new Set(results)) {
    if ('problem' in outcome && outcome.problem.status >= 500) failures[outcome.problem.code] = (failures[outcome.problem.code] ?? 0) + 1;
  }
  if (Object.keys(failures).length > 0) log.warn({ failures }, 'batch items failed upstream');
}

export default batchRoutes;
