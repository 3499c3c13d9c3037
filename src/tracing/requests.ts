/**
 * What tracing on adds to every request (src/plugins/tracing.ts calls it through
 * `Tracing.instrument`): the server span of every request (continuing an incoming
 * `traceparent`), its ids on every log line of the request, and the spans still queued
 * exported at close. Imports nothing of OpenTelemetry: the SDK's side comes in as `sdk`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { Tracer } from './api.js';

/** The ids that join a request's log lines to its trace. */
export interface TraceLogFields {
  trace_id: string;
  span_id: string;
  trace_flags: string;
}

/** What the SDK (./sdk.js) makes for one app. */
export interface SdkTracing {
  tracer: Tracer;
  /** @fastify/otel's plugin: the server span of every request, `traceparent` continued. */
  serverSpans: FastifyPluginCallback;
  /** Runs `work` (a route handler) with the request's server span active: a body read elsewhere loses it. */
  withRequest<T>(request: FastifyRequest, work: () => T): T;
  /** The ids of the request's server span, once serverSpans made it. */
  logFields(request: FastifyRequest): TraceLogFields | undefined;
  /** Exports what is still queued, then stops. */
  shutdown(): Promise<void>;
}

/**
 * How long close() waits for the last spans to reach the collector: a collector that does
 * not answer must not hold the shutdown (src/server.ts's backstop is 2 s past the grace).
 */
const FLUSH_AT_CLOSE_MS = 1000;

export async function instrumentRequests(app: FastifyInstance, sdk: SdkTracing): Promise<void> {
  await app.register(sdk.serverSpans);
  // Every route registered from here on (all of them) runs its handler in its request's trace.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function tracedHandler(this: FastifyInstance, request, reply) {
      return sdk.withRequest(request, () => handler.call(this, request, reply));
    };
  });
  // After @fastify/otel's own onRequest hook (registered just above), which starts the span.
  app.addHook('onRequest', (request, reply, done) => {
    const fields = sdk.logFields(request);
    if (fields !== undefined) {
      request.log = request.log.child(fields);
      reply.log = request.log;
    }
    done();
  });
  app.addHook('onClose', async () => {
    await Promise.race([sdk.shutdown(), sleep(FLUSH_AT_CLOSE_MS, undefined, { ref: false })]);
  });
}
