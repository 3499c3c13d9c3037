/**
 * POST /tasks/batch: the status of up to 100 tasks in one request, for dashboards. Every
 * distinct id is one `getTask` call, all at once, so the routing, single flight and caches
 * of GET /tasks/{id} apply unchanged; one id's failure becomes that id's problem item.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GatewayError, isGatewayError, toProblem } from '../src/errors.js';
import type { TaskService } from '../src/tasks/service.js';
import { BatchRequestSchema, BatchResultSchema, MAX_BATCH_IDS, type BatchItem } from '../schemas/batch.js';
import { BATCH_RESULT_EXAMPLE } from '../schemas/examples.js';
import { CLIENT_AUTH, jsonResponse, REQUEST_ID_HEADER } from './documentation.js';
import { problemResponses } from './problem-responses.js';

export interface BatchRoutesOptions {
  service: TaskService;
}

const batchRoutes: FastifyPluginAsyncZod<BatchRoutesOptions> = async (app, options) => {
  const { service } = options;

  app.post(
    '/tasks/batch',
    {
      schema: {
        operationId: 'getTasksBatch',
        tags: ['tasks'],
        summary: 'Get the normalized status of many tasks at once',
        description: [
          `Looks up 1-${MAX_BATCH_IDS} task ids concurrently, exactly as \`GET /tasks/{id}\` would (same routing, shared upstream calls, same caches), and answers with one result per id in request order.`,
          'A result is `{"id", "ok": true, "task"}` or `{"id", "ok": false, "problem"}`: an invalid, unknown or unreachable id only affects its own result, so the batch itself is a 200 whenever the request is well formed.',
          'Repeated ids are looked up once. There is no `wait`: poll again after the smallest `poll_after_ms` among the tasks still running.',
          'A batch counts as one request for the rate limit.',
        ].join('\n\n'),
        security: CLIENT_AUTH,
        body: BatchRequestSchema,
        response: {
          200: jsonResponse(BatchResultSchema, 'One result per requested id, in request order', {
            examples: { mixed: { summary: 'Two tasks found, one unknown id, one malformed id', value: BATCH_RESULT_EXAMPLE } },
            headers: { 'x-request-id': REQUEST_ID_HEADER },
          }),
          ...problemResponses([400, 401, 413, 415, 429]),
        },
      },
    },
    async (request) => {
      const itemFor = (id: string): Promise<BatchItem> =>
        service.getTask(id).then(
          (task) => ({ id, ok: true as const, task }),
          (error: unknown) => ({ id, ok: false as const, problem: toProblem(asGatewayError(error, request.log), request.id) }),
        );
      const { ids } = request.body;
      const items = new Map<string, Promise<BatchItem>>();
      for (const id of ids) if (!items.has(id)) items.set(id, itemFor(id));
      const results = await Promise.all(ids.map((id) => items.get(id)!));
      logFailures(results, request.log);
      return { results };
    },
  );
};

/** Anything but a GatewayError is a bug: that id gets an internal_error, and the stack goes to the log. */
function asGatewayError(error: unknown, log: FastifyBaseLogger): GatewayError {
  if (isGatewayError(error)) return error;
  log.error({ err: error }, 'batch lookup failed unexpectedly');
  return new GatewayError('internal_error', { detail: 'The gateway failed unexpectedly.', cause: error });
}

/** One line per batch with the 5xx codes it met, where a single GET would log one per request. */
function logFailures(results: readonly BatchItem[], log: FastifyBaseLogger): void {
  const failures: Record<string, number> = {};
  for (const item of new Set(results)) {
    if (!item.ok && item.problem.status >= 500) failures[item.problem.code] = (failures[item.problem.code] ?? 0) + 1;
  }
  if (Object.keys(failures).length > 0) log.warn({ failures }, 'batch items failed upstream');
}

export default batchRoutes;
