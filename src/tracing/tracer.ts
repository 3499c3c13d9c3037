/**
 * Tracing as the rest of the gateway sees it. Off by default: `startTracing` then returns
 * undefined without importing anything of OpenTelemetry, and every traced place holds an
 * optional `Tracer` and skips its calls (`tracer?.…`), so tracing off costs nothing per
 * request. On (an OTLP endpoint in the OTEL_* variables), the SDK is imported from
 * `./sdk.js` and spans go to the collector over OTLP/HTTP.
 *
 * To trace something new (a fleet lease, a webhook delivery), take the optional `Tracer`
 * where that work is set up and wrap the work in a child span of whatever is active:
 *
 *     const delivered = tracer
 *       ? tracer.inSpan('taskgate.webhook.delivery', { kind: 'client', attributes: { 'taskgate.webhook.attempt': attempt } }, () => deliver())
 *       : deliver();
 *
 * Work that outlives the request that started it (a poll loop, a retry queue) starts
 * traces of its own with `root: true`, so it does not hang under a request long answered.
 */
import type { FastifyBaseLogger, FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { EnabledTracingConfig, TracingConfig } from './settings.js';

export type SpanKind = 'internal' | 'client' | 'producer' | 'consumer';
/** Undefined values are left out, so callers can pass optional facts as they are. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: SpanAttributes;
  /** A new trace, whatever span is active (work that outlives its request). */
  root?: boolean;
}

export interface TraceSpan {
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed: status ERROR, and `error.type` (a problem code, an HTTP status, `timeout`…). */
  fail(errorType: string, message?: string): void;
  /**
   * What an error thrown by the span's work says: a problem below 500 (an answer about the
   * task: not found, not ready) is noted as `taskgate.problem`; anything else fails the span.
   */
  recordError(error: unknown): void;
  /** Links this span to another (a lookup that joined another request's upstream call). */
  link(other: TraceSpan): void;
  /** Ends the span; later calls do nothing. */
  end(): void;
}

export interface Tracer {
  /** A span whose parent is the span active where this is called (the request's, a lookup's), unless `root`. */
  startSpan(name: string, options?: SpanOptions): TraceSpan;
  /** Runs `work` with `span` active: spans started inside it, across awaits, are its children. */
  withSpan<T>(span: TraceSpan, work: () => T): T;
  /**
   * A child span around `work`: active inside it, ended when its promise settles, with
   * the error recorded (`recordError`) when it rejects.
   */
  inSpan<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T>;
}

/** The ids that join a request's log lines to its trace. */
export interface TraceLogFields {
  trace_id: string;
  span_id: string;
  trace_flags: string;
}

export interface Tracing {
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

export interface TracingContext {
  serviceVersion: string;
  /** Where the SDK's own complaints go (a collector that does not answer). */
  log: FastifyBaseLogger;
}

/** The tracing of one app, or undefined when it is off (and then nothing of OpenTelemetry is loaded). */
export async function startTracing(config: TracingConfig, context: TracingContext): Promise<Tracing | undefined> {
  if (!config.enabled) return undefined;
  const { createTracing } = await import('./sdk.js');
  return createTracing(config satisfies EnabledTracingConfig, context);
}
