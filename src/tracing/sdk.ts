/**
 * The OpenTelemetry SDK, imported only when tracing is on (src/tracing/tracer.ts): a
 * tracer provider per app exporting over OTLP/HTTP, @fastify/otel for the server spans,
 * W3C trace context for incoming `traceparent`, and async-hooks context so a span started
 * deep in a lookup finds its request's span. Everything is configured from the values
 * src/config.ts read; the SDK packages used here read no environment of their own. Only
 * imports types of the rest of the gateway: the production build bundles this file on its
 * own (dist/tracing-sdk.mjs).
 */
import { context, diag, DiagLogLevel, propagation, SpanKind as OtelSpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type Span as SdkSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { GatewayError } from '../errors.js';
import type { SpanKind, SpanOptions, TraceSpan, Tracer, TracingContext } from './api.js';
import type { SdkTracing, TraceLogFields } from './requests.js';
import type { EnabledTracingConfig } from './settings.js';

/** Probes and scrapes every few seconds would drown the traces worth reading. */
const UNTRACED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const SPAN_KINDS: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
};

class OtelSpan implements TraceSpan {
  private ended = false;

  constructor(
    readonly span: Span,
    private readonly isGatewayError: (error: unknown) => error is GatewayError,
  ) {}

  isRecording(): boolean {
    return this.span.isRecording();
  }

  setAttributes(attributes: SpanOptions['attributes'] & object): void {
    this.span.setAttributes(attributes);
  }

  fail(errorType: string, message?: string): void {
    this.span.setAttribute('error.type', errorType);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  recordError(error: unknown): void {
    if (!this.isGatewayError(error)) {
      const name = (error as { name?: unknown } | null)?.name;
      this.fail(typeof name === 'string' ? name : 'error');
      return;
    }
    // A GatewayError's detail is written for clients: no key, no upstream body.
    if (error.status < 500) this.span.setAttribute('taskgate.problem', error.code);
    else this.fail(error.code, error.detail);
  }

  link(other: TraceSpan): void {
    if (other instanceof OtelSpan) this.span.addLink({ context: other.span.spanContext() });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }
}

/**
 * HTTP semantic conventions: a server span is failed for a 5xx answer only. @fastify/otel
 * marks every request whose handler threw as failed, and taskgate throws its 4xx problems
 * (task_not_found…), so the status is set right while the span can still change.
 */
const serverSpanStatus: SpanProcessor = {
  onStart: () => {},
  onEnding(span: SdkSpan) {
    if (span.kind !== OtelSpanKind.SERVER) return;
    const status = span.attributes['http.response.status_code'];
    if (typeof status !== 'number') return;
    if (status >= 500) span.setAttribute('error.type', String(status));
    // setStatus() never goes back to UNSET; the field is the span's own until it has ended.
    else if (span.status.code === SpanStatusCode.ERROR) Object.assign(span, { status: { code: SpanStatusCode.UNSET } });
  },
  onEnd: () => {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

class OtelTracer implements Tracer {
  constructor(
    private readonly tracer: ReturnType<TracerProvider['getTracer']>,
    private readonly isGatewayError: TracingContext['isGatewayError'],
  ) {}

  startSpan(name: string, options: SpanOptions = {}): TraceSpan {
    return new OtelSpan(
      this.tracer.startSpan(name, { kind: SPAN_KINDS[options.kind ?? 'internal'], attributes: options.attributes, root: options.root }, context.active()),
      this.isGatewayError,
    );
  }

  withSpan<T>(span: TraceSpan, work: () => T): T {
    if (!(span instanceof OtelSpan)) return work();
    return context.with(trace.setSpan(context.active(), span.span), work);
  }

  inSpan<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => Promise<T>): Promise<T> {
    const span = this.startSpan(name, options);
    const failed = (error: unknown) => {
      span.recordError(error);
      span.end();
    };
    let pending: Promise<T>;
    try {
      // Called at once, not on a later tick: callers rely on what `work` does synchronously (single flight).
      pending = this.withSpan(span, () => work(span));
    } catch (error) {
      failed(error);
      return Promise.reject(error);
    }
    return pending.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        failed(error);
        throw error;
      },
    );
  }
}

function samplerOf(config: EnabledTracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
  }
}

function exporterOf(config: EnabledTracingConfig): JsonTraceExporter | ProtobufTraceExporter {
  const options = {
    url: config.url,
    headers: config.headers,
    timeoutMillis: config.timeoutMs,
    compression: config.compression as NonNullable<ConstructorParameters<typeof JsonTraceExporter>[0]>['compression'],
  };
  return config.protocol === 'http/json' ? new JsonTraceExporter(options) : new ProtobufTraceExporter(options);
}

/**
 * The context manager and the propagator are process-wide in OpenTelemetry's API: the
 * first app to turn tracing on installs them, later ones (tests build many) share them.
 */
function installGlobals(log: FastifyBaseLogger): void {
  const manager = new AsyncLocalStorageContextManager();
  if (context.setGlobalContextManager(manager.enable())) {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const warn = (message: string, ...details: unknown[]) => log.warn({ component: 'opentelemetry', details: details.map(String) }, message);
    const quiet = () => {};
    diag.setLogger({ error: warn, warn, info: quiet, debug: quiet, verbose: quiet }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  } else {
    manager.disable();
  }
}

/** The server span's stable HTTP semantic-convention attributes @fastify/otel leaves out, and its name. */
function describeRequest(span: Span, request: FastifyRequest): void {
  const route = request.routeOptions.url;
  span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
  const query = request.url.indexOf('?');
  span.setAttributes({
    // Without the query: a link token (`?token=`) is a credential and never reaches a trace.
    'url.path': query === -1 ? request.url : request.url.slice(0, query),
    'url.scheme': request.protocol,
    'server.address': request.hostname,
    'server.port': request.port ?? undefined,
    'client.address': request.ip,
    'network.protocol.version': request.raw.httpVersion,
    'user_agent.original': request.headers['user-agent'],
    'taskgate.request_id': request.id,
  });
}

export function createTracing(config: EnabledTracingConfig, { serviceVersion, log, isGatewayError }: TracingContext): SdkTracing {
  installGlobals(log);
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ 'service.version': serviceVersion, ...config.resourceAttributes, 'service.name': config.serviceName }),
    ),
    sampler: samplerOf(config),
    spanProcessors: [
      serverSpanStatus,
      new BatchSpanProcessor({
        exporter: exporterOf(config),
        scheduledDelayMillis: config.batch.scheduleDelayMs,
        exportTimeoutMillis: config.batch.exportTimeoutMs,
        maxQueueSize: config.batch.maxQueueSize,
        maxExportBatchSize: config.batch.maxExportBatchSize,
      }),
    ],
  });
  const instrumentation = new FastifyOtelInstrumentation({
    // The server span only: no span per hook or handler (the lookups are the children worth seeing).
    instrumentHooks: false,
    instrumentHandler: false,
    // Stack traces of expected problems (404s, upstream trouble) would fill every trace.
    recordExceptions: false,
    ignorePaths: (route) => UNTRACED_PATHS.has(route.url.split('?')[0] ?? route.url),
    requestHook: describeRequest,
    // Only the not-found handler is still wrapped in a span: named after it, not after the plugin chain.
    lifecycleHook: (span, { hookName }) => span.updateName(hookName),
  });
  // The app's own provider, not a global one: several apps in one process export apart.
  instrumentation.setTracerProvider(provider);

  return {
    tracer: new OtelTracer(provider.getTracer('taskgate', serviceVersion), isGatewayError),
    serverSpans: instrumentation.plugin(),
    withRequest<T>(request: FastifyRequest, work: () => T): T {
      const active = request.opentelemetry().context;
      return active === null ? work() : context.with(active, work);
    },
    logFields(request: FastifyRequest): TraceLogFields | undefined {
      const span = request.opentelemetry().span;
      if (span === null) return undefined;
      const { traceId, spanId, traceFlags } = span.spanContext();
      return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, '0') };
    },
    shutdown: () => provider.shutdown(),
  };
}
