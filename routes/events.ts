/**
 * GET /tasks/{id}/events: server-sent events. An `event: task` with the Task at once and at
 * every change of status or progress, a keep-alive comment every 15 s, and the end of the
 * stream after the terminal event. Errors before the stream starts are problem+json.
 */
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { toProblem } from '../src/errors.js';
import type { RenderedTask } from '../src/tasks/render.js';
import type { TaskService } from '../src/tasks/service.js';
import { TaskParamsSchema } from '../schemas/params.js';
import { isTerminal } from '../schemas/task.js';
import { CLIENT_AUTH } from './documentation.js';
import { problemResponses } from './problem-responses.js';
import { TASK_ROUTE_CONFIG, viewContext, type ViewSettings } from './task-replies.js';

export interface EventRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  keepAliveMs: number;
}

function taskEvent(rendered: RenderedTask): string {
  return `event: task\ndata: ${rendered.json}\n\n`;
}

const SSE_RESPONSE = {
  description:
    'A `text/event-stream`. Each `event: task` carries a `Task` as JSON; the stream ends after the terminal one. A permanent error during the stream (task gone, provider rejected our key) arrives as `event: error` carrying a `Problem`, then the stream ends.',
  content: {
    'text/event-stream': {
      schema: { type: 'string' },
      example: 'event: task\ndata: {"id":"task_abc001","status":"in_progress","progress":40,...}\n\n: keep-alive\n\nevent: task\ndata: {"id":"task_abc001","status":"succeeded","progress":100,...}\n\n',
    },
  },
};

const eventRoutes: FastifyPluginAsyncZod<EventRoutesOptions> = async (app, options) => {
  const { service, views, keepAliveMs } = options;

  app.get(
    '/tasks/:id/events',
    {
      config: { ...TASK_ROUTE_CONFIG, held: true },
      schema: {
        operationId: 'streamTaskEvents',
        tags: ['tasks'],
        summary: 'Follow a task with server-sent events',
        description:
          'Sends `event: task` with the current Task at once and again at every change of status or progress; closes after the terminal event. A comment line is sent every 15 s to keep proxies from closing the connection. Use `EventSource` in browsers.',
        security: CLIENT_AUTH,
        params: TaskParamsSchema,
        response: {
          200: SSE_RESPONSE as never,
          ...problemResponses([400, 401, 404, 429, 502, 503, 504]),
        },
      },
    },
    async (request, reply) => {
      const context = viewContext(request, views);
      const stream = await service.streamTask(request.params.id);
      const first = service.render(stream.first, context);
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
      const keepAlive = setInterval(() => body.write(': keep-alive\n\n'), keepAliveMs);
      const close = () => {
        clearInterval(keepAlive);
        unfollow();
        if (!body.writableEnded) body.end();
      };
      const unfollow = stream.follow((event) => {
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
      // A client that goes away releases its place in the poll loop at once.
      reply.raw.once('close', close);
      return reply.send(body);
    },
  );
};

export default eventRoutes;
