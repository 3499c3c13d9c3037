/**
 * Traces, when they are on (src/tracing/): the server span of every request (continuing
 * an incoming `traceparent`), its ids on every log line of the request, and the spans
 * still queued exported at close. Registered before every other plugin so the server
 * span covers their hooks too. Off, it adds nothing: no hook, no decoration.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Tracing } from '../tracing/tracer.js';

export interface TracingOptions {
  /** Undefined: tracing is off. */
  tracing: Tracing | undefined;
}

/**
 * How long close() waits for the last spans to reach the collector: a collector that does
 * not answer must not hold the shutdown (src/server.ts's backstop is 2 s past the grace).
 */
const FLUSH_AT_CLOSE_MS = 1000;

const tracingPlugin: FastifyPluginAsync<TracingOptions> = async (app, { tracing }) => {
  if (tracing === undefined) return;
  await app.register(tracing.serverSpans);
  // Every route registered from here on (all of them) runs its handler in its request's trace.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function tracedHandler(this: FastifyInstance, request, reply) {
      return tracing.withRequest(request, () => handler.call(this, request, reply));
    };
  });
  // After @fastify/otel's own onRequest hook (registered just above), which starts the span.
  app.addHook('onRequest', (request, reply, done) => {
    const fields = tracing.logFields(request);
    if (fields !== undefined) {
      request.log = request.log.child(fields);
      reply.log = request.log;
    }
    done();
  });
  app.addHook('onClose', async () => {
    await Promise.race([tracing.shutdown(), sleep(FLUSH_AT_CLOSE_MS, undefined, { ref: false })]);
  });
};

export default fastifyPlugin(tracingPlugin, { name: 'taskgate-tracing' });
