/**
 * Traces (OpenTelemetry) as the spec's own OTEL_* variables set them: off unless an OTLP
 * endpoint is given (or OTEL_TRACES_EXPORTER=otlp asks for the spec's default one), and
 * off whatever else is set when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. A
 * signal-specific variable (…_TRACES_…) wins over the general one. The SDK is handed the
 * result; it reads no variable itself.
 */
import { z } from 'zod';
import { durationMs, httpUrl, keyValues, optionalDurationMs, positiveNumber, type EnvKind, type EnvSetting } from '../settings/primitives.js';

/** OTLP over HTTP only: the protobuf body (the OpenTelemetry default) or JSON. */
const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
const otlpProtocol = z.enum(OTLP_PROTOCOLS, { error: 'must be http/protobuf or http/json (OTLP over gRPC is not supported)' });
const otlpCompression = z.enum(['gzip', 'none'], { error: 'must be gzip or none' });
/** The OpenTelemetry spec's OTEL_TRACES_SAMPLER values. */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

export function tracingSettingsSchema() {
  return z
    .object({
      sdkDisabled: z.boolean().default(false),
      exporter: z.enum(['otlp', 'none'], { error: 'must be otlp or none (no other exporter is built in)' }).optional(),
      /** The collector's base URL: traces go to `{endpoint}/v1/traces`. */
      endpoint: httpUrl.optional(),
      /** The full URL traces are sent to, used as given. */
      tracesEndpoint: httpUrl.optional(),
      protocol: otlpProtocol.optional(),
      tracesProtocol: otlpProtocol.optional(),
      headers: keyValues.optional(),
      tracesHeaders: keyValues.optional(),
      timeoutMs: durationMs.optional(),
      tracesTimeoutMs: durationMs.optional(),
      compression: otlpCompression.optional(),
      tracesCompression: otlpCompression.optional(),
      serviceName: z.string().trim().min(1).optional(),
      resourceAttributes: keyValues.default({}),
      sampler: z.enum(TRACE_SAMPLERS, { error: `must be one of ${TRACE_SAMPLERS.join(', ')}` }).default('parentbased_always_on'),
      /** The ratio of the traceidratio samplers. */
      samplerArg: z.number().min(0).max(1).default(1),
      batch: z
        .object({
          scheduleDelayMs: optionalDurationMs.default(5000),
          exportTimeoutMs: durationMs.default(30_000),
          maxQueueSize: positiveNumber.default(2048),
          maxExportBatchSize: positiveNumber.default(512),
        })
        .strict()
        .refine((batch) => batch.maxExportBatchSize <= batch.maxQueueSize, {
          path: ['maxExportBatchSize'],
          error: 'must not be larger than OTEL_BSP_MAX_QUEUE_SIZE',
        })
        .prefault({}),
    })
    .strict()
    .prefault({})
    .transform((settings) => {
      const wanted = settings.tracesEndpoint !== undefined || settings.endpoint !== undefined || settings.exporter === 'otlp';
      if (settings.sdkDisabled || settings.exporter === 'none' || !wanted) return { enabled: false as const };
      // The spec's default collector address, when only OTEL_TRACES_EXPORTER=otlp was said.
      const base = settings.endpoint ?? 'http://localhost:4318';
      return {
        enabled: true as const,
        url: settings.tracesEndpoint ?? `${base}/v1/traces`,
        protocol: settings.tracesProtocol ?? settings.protocol ?? 'http/protobuf',
        headers: { ...settings.headers, ...settings.tracesHeaders },
        timeoutMs: settings.tracesTimeoutMs ?? settings.timeoutMs ?? 10_000,
        compression: settings.tracesCompression ?? settings.compression ?? 'none',
        // The spec: OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES.
        serviceName: settings.serviceName ?? settings.resourceAttributes['service.name'] ?? 'taskgate',
        resourceAttributes: settings.resourceAttributes,
        sampler: settings.sampler,
        samplerRatio: settings.samplerArg,
        batch: settings.batch,
      };
    });
}
export type TracingConfig = z.output<ReturnType<typeof tracingSettingsSchema>>;
export type EnabledTracingConfig = Extract<TracingConfig, { enabled: true }>;

/** The OpenTelemetry variables taskgate reads, and the tracing setting each one sets. */
const TRACING_VARIABLES: ReadonlyArray<readonly [string, string, EnvKind]> = [
  ['OTEL_SDK_DISABLED', 'sdkDisabled', 'boolean'],
  ['OTEL_TRACES_EXPORTER', 'exporter', 'text'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'endpoint', 'text'],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'tracesEndpoint', 'text'],
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'protocol', 'text'],
  ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'tracesProtocol', 'text'],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'headers', 'keyValues'],
  ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'tracesHeaders', 'keyValues'],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'timeoutMs', 'wholeNumber'],
  ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'tracesTimeoutMs', 'wholeNumber'],
  ['OTEL_EXPORTER_OTLP_COMPRESSION', 'compression', 'text'],
  ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'tracesCompression', 'text'],
  ['OTEL_SERVICE_NAME', 'serviceName', 'text'],
  ['OTEL_RESOURCE_ATTRIBUTES', 'resourceAttributes', 'keyValues'],
  ['OTEL_TRACES_SAMPLER', 'sampler', 'text'],
  ['OTEL_TRACES_SAMPLER_ARG', 'samplerArg', 'number'],
  ['OTEL_BSP_SCHEDULE_DELAY', 'batch.scheduleDelayMs', 'wholeNumber'],
  ['OTEL_BSP_EXPORT_TIMEOUT', 'batch.exportTimeoutMs', 'wholeNumber'],
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'batch.maxQueueSize', 'wholeNumber'],
  ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'batch.maxExportBatchSize', 'wholeNumber'],
];

/** The OTEL_* variables as environment settings under `tracing`. */
export const TRACING_ENV_SETTINGS: readonly EnvSetting[] = TRACING_VARIABLES.map(([variable, key, kind]) => ({
  variable,
  path: ['tracing', ...key.split('.')],
  kind,
}));
