/**
 * GET /tasks/{id}/events: server-sent events. An `event: task` with the Task at once and at
 * every change of status or progress, a keep-alive comment every 15 s, and the end of the
 * stream after the terminal event. Errors before the stream starts are problem+json.
 */
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toProblem } from '../src/errors.js';
import type { RenderedTask } from '../src/tasks/render.js';
import type { TaskService } from '../src/tasks/service.js';
import { LinkTokenQuerySchema } from '../schemas/links.js';
import { TaskParamsSchema } from '../schemas/params.js';
import { isTerminal } from '../schemas/task.js';
import { LINK_AUTH } from './documentation.js';
import { problemResponses, TASK_LOOKUP_CODES } from './problem-responses.js';
import { clientOf } from '../src/client-identity.js';
import { LINKED_TASK_ROUTE_CONFIG, viewContext, type ViewSettings } from './task-replies.js';

export interface EventRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  keepAliveMs: number;
}

/** The event's `id:` is the version of the task's state (its ETag's opaque part), so a reconnect says what it saw. */
export function eventId(rendered: RenderedTask): string {
  // A running task's ETag is weak (`W/"…"`): the id is what is between the quotes either way.
  const { etag } = rendered;
  return etag.slice(etag.indexOf('"') + 1, -1);
}

function taskEvent(rendered: RenderedTask): string {
  return `id: ${eventId(rendered)}\nevent: task\ndata: ${rendered.json}\n\n`;
}

const EventHeadersSchema = z.object({
  'last-event-id': z
    .string()
    .optional()
    .describe('Sent by `EventSource` when it reconnects: the `id` of the last event it received'),
});

const SSE_RESPONSE = {
  description:
    'A `text/event-stream`. Each `event: task` carries a `Task` as JSON; the stream ends after the terminal one. A permanent error during the stream (task gone, provider rejected our key) arrives as `event: error` carrying a `Problem`, then the stream ends.',
  content: {
    'text/event-stream': {
      schema: { type: 'string' },
      example:
        'id: kq3vS1sTZ8dnqvFJcK2rYbR3U7A\nevent: task\ndata: {"id":"task_abc001","status":"in_progress","progress":40,...}\n\n: keep-alive\n\nid: 0b6PZ2b3uXf8mJ1w1GgqzQy8K2M\nevent: task\ndata: {"id":"task_abc001","status":"succeeded","progress":100,...}\n\n',
    },
  },
};

const eventRoutes: FastifyPluginAsyncZod<EventRoutesOptions> = async (app, options) => {
  const { service, views, keepAliveMs } = options;

  app.get(
    '/tasks/:id/events',
    {
      config: { ...LINKED_TASK_ROUTE_CONFIG, held: true },
      schema: {
        operationId: 'streamTaskEvents',
        tags: ['tasks'],
        summary: 'Follow a task with server-sent events',
        description:
          'Sends `event: task` with the current Task at once and again at every change of status or progress; closes after the terminal event. Each event has an `id:` (the version of the task\'s state): a reconnect whose `Last-Event-ID` names the terminal state gets `204 No Content`, which stops `EventSource` from reconnecting; an older one gets the events from the current state on. A comment line is sent every 15 s to keep proxies from closing the connection. Use `EventSource` in browsers.',
        security: LINK_AUTH,
        params: TaskParamsSchema,
        querystring: LinkTokenQuerySchema,
        headers: EventHeadersSchema,
        response: {
          200: SSE_RESPONSE as never,
          204: z.null().describe('The reconnect of a stream that already ended with the terminal state (`Last-Event-ID` names it): nothing more will come, and per the HTML standard the browser stops reconnecting.'),
          ...problemResponses([...TASK_LOOKUP_CODES, 'quota_exceeded']),
        },
      },
    },
    async (request, reply) => {
      const context = viewContext(request, views);
      const stream = await service.streamTask(request.params.id, clientOf(request));
      const first = service.render(stream.first, context);
      // EventSource reconnects after every close; 204 is the HTML standard's "stop" once it has the end.
      if (isTerminal(first.task.status) && request.headers['last-event-id'] === eventId(first)) return reply.code(204).send(null);
      const body = new PassThrough();
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        // Tell nginx-style proxies not to buffer the stream.
        .header('x-accel-buffering', 'no');
      body.write(taskEvent(first));
      if (isTerminal(first.task.status)) {
        body.end();
        return reply.send(body);
      }

      let last = first.task;
      let keepAlive: NodeJS.Timeout | undefined;
      let unfollow: (() => void) | undefined;
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(keepAlive);
        unfollow?.();
        if (!body.writableEnded) body.end();
      };
      // A client that goes away releases its place in the poll loop and its watch at once (even while the place is being taken).
      reply.raw.once('close', close);
      // A refusal (429 past the client's watches, 503 past waiters.max) is thrown before anything is sent: a problem answer.
      const following = await stream.follow((event) => {
        if ('snapshot' in event) {
          const rendered = service.render(event.snapshot, context);
          const { task } = rendered;
          if (task.status !== last.status || task.progress !== last.progress) {
            last = task;
            body.write(taskEvent(rendered));
          }
          if (isTerminal(task.status) || event.final) close();
        } else if (event.permanent) {
          body.write(`event: error\ndata: ${JSON.stringify(toProblem(event.error, request.id))}\n\n`);
          close();
        }
        // Transient upstream errors are retried by the poll loop; the client sees nothing.
      });
      if (closed) following();
      else {
        unfollow = following;
        keepAlive = setInterval(() => body.write(': keep-alive\n\n'), keepAliveMs);
      }
      return reply.send(body);
    },
  );
};

export default eventRoutes;
