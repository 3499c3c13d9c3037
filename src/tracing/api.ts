/**
 * Tracing as the rest of the gateway sees it: the interfaces every traced place holds, and
 * the no-op tracer they hold when tracing is off (as OpenTelemetry's own API does). Off is
 * the default: `startTracing` (./tracer.js) then hands out `NOOP_TRACER`, whose spans do
 * nothing and whose `inSpan`/`withSpan` just run the work, and nothing of OpenTelemetry is
 * imported. On (an OTLP endpoint in the OTEL_* variables), the SDK is imported from
 * `./sdk.js` and spans go to the collector over OTLP/HTTP. Either way the traced code is
 * the same: it never asks whether tracing is on.
 *
 * To trace something new (a fleet lease, a webhook delivery), take the `Tracer` where that
 * work is set up and wrap the work in a child span of whatever is active:
 *
 *     const delivered = tracer.inSpan('taskgate.webhook.delivery', { kind: 'client' }, () => deliver());
 *
 * Attributes that cost something to compute (a digest) are set only when
 * `span.isRecording()`. Work that outlives the request that started it (a poll loop, a
 * retry queue) starts traces of its own with `root: true`, so it does not hang under a
 * request long answered.
 */
import type { FastifyInstance } from 'fastify';
import type { GatewayError } from '../errors.js';

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
  /** False for the no-op span (and a span the sampler dropped): attributes set on it go nowhere. */
  isRecording(): boolean;
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

/** The tracing of one app: its tracer, and what it adds to the app's requests. */
export interface Tracing {
  tracer: Tracer;
  /**
   * Called before every other plugin is registered (src/plugins/tracing.ts): on, the server
   * span of every request, its ids on the request's log lines, the last spans exported at
   * close; off, nothing (no hook, no decoration).
   */
  instrument(app: FastifyInstance): Promise<void>;
}

export interface TracingContext {
  serviceVersion: string;
  /** Where the SDK's own complaints go (a collector that does not answer). */
  log: FastifyInstance['log'];
  /**
   * src/errors.ts's type guard, handed to the SDK rather than imported by it: the SDK is a
   * bundle of its own, whose copy of the GatewayError class no thrown error would be an instance of.
   */
  isGatewayError: (error: unknown) => error is GatewayError;
}

/** The one span of the no-op tracer: every call on it does nothing. */
const NOOP_SPAN: TraceSpan = {
  isRecording: () => false,
  setAttributes: () => {},
  fail: () => {},
  recordError: () => {},
  link: () => {},
  end: () => {},
};

/** Tracing off: no span is made, the work runs as it is (its own promise returned, not a wrapper). */
export const NOOP_TRACER: Tracer = {
  startSpan: () => NOOP_SPAN,
  withSpan: (_span, work) => work(),
  inSpan: (_name, _options, work) => work(NOOP_SPAN),
};

export const NOOP_TRACING: Tracing = {
  tracer: NOOP_TRACER,
  instrument: () => Promise.resolve(),
};
