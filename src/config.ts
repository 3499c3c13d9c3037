/**
 * The one place that reads the environment. Every setting lives once, in the zod schema
 * below, with its default and its bounds; the environment variables of DESIGN.md and the
 * optional TASKGATE_CONFIG file are two ways to set it (the environment wins). The result
 * is a frozen Config passed in to whatever needs it; a bad value stops the boot with a
 * message that names the variable (or the file and the setting's path in it).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { allowHostsSchema } from './content/address-guard.js';
import { PROVIDERS } from './providers/index.js';
import type { IdRule, ProviderDefinition } from './providers/types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The longest delay a Node timer holds (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const wholeNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A count that 0 would make meaningless. */
const positiveNumber = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
/** A duration that 0 would make meaningless. */
const durationMs = z.number().int().min(1).max(MAX_TIMER_MS);
const optionalDurationMs = z.number().int().min(0).max(MAX_TIMER_MS);

const httpUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
  .refine((value) => {
    // Runs after a failed URL check too (zod checks are not fatal): only judge real URLs.
    const url = URL.canParse(value) ? new URL(value) : undefined;
    return url === undefined || (url.username === '' && url.password === '');
  }, 'must not contain credentials (user:password@): give keys in their own variables')
  .transform((value) => value.replace(/\/+$/, ''));

/** About 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h (DESIGN.md "Webhooks"). */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000] as const;
/** Standard Webhooks keys are random bytes; fewer than 24 is a guessable key. */
const MIN_WEBHOOK_SECRET_BYTES = 24;

/** TASKGATE_WEBHOOK_SECRET: `whsec_` + base64 of at least 24 bytes; kept as written (the signer decodes it). */
const webhookSecret = z
  .string()
  .trim()
  .refine((value) => {
    const encoded = value.startsWith('whsec_') ? value.slice('whsec_'.length) : undefined;
    if (encoded === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return false;
    return Buffer.from(encoded, 'base64').length >= MIN_WEBHOOK_SECRET_BYTES;
  }, `must be whsec_ followed by the base64 of at least ${MIN_WEBHOOK_SECRET_BYTES} random bytes (e.g. whsec_$(openssl rand -base64 32))`);

const origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://app.example');

/** REDIS_URL: `redis://` or `rediss://` (TLS); a password in it is how Redis takes one. */
const redisUrl = z
  .string()
  .trim()
  .refine((value) => URL.canParse(value) && /^rediss?:$/.test(new URL(value).protocol), 'must be a redis:// or rediss:// URL');

const RoutingRuleSchema = z
  .object({
    /** Matches ids that start with this text. */
    prefix: z.string().min(1).optional(),
    /** Matches ids this regular expression accepts (anchor it yourself). */
    pattern: z
      .string()
      .min(1)
      .refine((pattern) => {
        try {
          new RegExp(pattern);
          return true;
        } catch {
          return false;
        }
      }, 'is not a valid regular expression')
      .optional(),
    /** Candidates in order of preference; more than one makes the id ambiguous. */
    providers: z.array(z.string().min(1)).min(1),
  })
  .strict()
  .refine((rule) => (rule.prefix === undefined) !== (rule.pattern === undefined), {
    error: 'a rule needs exactly one of prefix or pattern',
  });
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;

function providerSchema(definition: ProviderDefinition) {
  return z
    .object({
      /** Undefined: the provider is not configured and answers 503 provider_not_configured. */
      apiKey: z.string().regex(/^[^\r\n]+$/, 'must be one line').optional(),
      baseUrl: httpUrl.default(definition.defaultBaseUrl),
      pollIntervalMs: durationMs.default(definition.defaultPollIntervalMs),
      connections: positiveNumber.default(128),
    })
    .strict()
    .transform((settings) => ({ name: definition.name, ...settings }));
}
export type ProviderConfig = z.output<ReturnType<typeof providerSchema>>;

/**
 * The default rule table, from the rules each provider declares: rules with the same
 * matcher merge, their candidates in `order`; the table is sorted by each rule's lowest.
 */
export function defaultRoutes(providers: readonly ProviderDefinition[]): RoutingRule[] {
  const merged = new Map<string, { rule: IdRule; candidates: Array<{ name: string; order: number }> }>();
  for (const provider of providers) {
    for (const rule of provider.idRules) {
      const key = rule.prefix !== undefined ? `prefix:${rule.prefix}` : `pattern:${rule.pattern ?? ''}`;
      const entry = merged.get(key) ?? { rule, candidates: [] };
      entry.candidates.push({ name: provider.name, order: rule.order });
      merged.set(key, entry);
    }
  }
  return [...merged.values()]
    .map(({ rule, candidates }) => ({ rule, candidates: candidates.sort((left, right) => left.order - right.order) }))
    .sort((left, right) => left.candidates[0]!.order - right.candidates[0]!.order)
    .map(({ rule, candidates }) => ({
      ...(rule.prefix !== undefined ? { prefix: rule.prefix } : { pattern: rule.pattern! }),
      providers: candidates.map((candidate) => candidate.name),
    }));
}

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
const keyValues = z.record(z.string(), z.string());

/**
 * Traces (OpenTelemetry), set by the spec's own OTEL_* variables: off unless an OTLP
 * endpoint is given (or OTEL_TRACES_EXPORTER=otlp asks for the spec's default one), and
 * off whatever else is set when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. A
 * signal-specific variable (…_TRACES_…) wins over the general one.
 */
function tracingSchema() {
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
export type TracingConfig = z.output<ReturnType<typeof tracingSchema>>;
export type EnabledTracingConfig = Extract<TracingConfig, { enabled: true }>;

function configSchema(providers: readonly ProviderDefinition[]) {
  const providerSettings = z
    .object(Object.fromEntries(providers.map((definition) => [definition.name, providerSchema(definition).prefault({})])))
    .strict()
    .prefault({}) as unknown as z.ZodType<Record<string, ProviderConfig>, unknown>;
  const known = new Set(providers.map((definition) => definition.name));
  return z
    .object({
      port: z.number().int().min(0).max(65_535).default(8080),
      host: z.string().trim().min(1).default('0.0.0.0'),
      logLevel: z.enum(LOG_LEVELS).default('info'),
      /** Client keys; empty: the API is open. */
      apiKeys: z.array(z.string().min(1)).default([]),
      /** Null: no CORS headers; `*`: any origin. */
      corsOrigins: z.union([z.literal('*'), z.array(origin).min(1)]).nullable().default(null),
      upstreamTimeoutMs: durationMs.default(10_000),
      /** Requests per minute per client key (per IP when open); 0 = off. */
      rateLimitPerMinute: wholeNumber.default(600),
      circuit: z
        .object({
          /** Consecutive failed lookups that open a provider's circuit; 0 = never. */
          failureThreshold: wholeNumber.default(5),
          openMs: durationMs.default(30_000),
        })
        .strict()
        .prefault({}),
      providers: providerSettings,
      routes: z
        .array(RoutingRuleSchema)
        .superRefine((rules, context) => {
          rules.forEach((rule, index) => {
            for (const name of rule.providers) {
              if (!known.has(name)) context.addIssue({ code: 'custom', path: [index, 'providers'], message: `names an unknown provider "${name}"` });
            }
          });
        })
        .default(() => defaultRoutes(providers)),
      cache: z
        .object({
          /** Terminal tasks kept in memory (LRU). */
          terminalMaxEntries: z.number().int().min(1).default(10_000),
          terminalTtlMs: durationMs.default(60 * 60 * 1000),
          /**
           * Shortens how long a non-terminal answer is reused (it is reused until the
           * provider's cadence has passed since it was fetched); unset: no shortening, 0: never reused.
           */
          freshMs: optionalDurationMs.optional(),
          /** How long a provider's "no such task" is remembered, per provider and native id; 0: never. */
          notFoundMs: optionalDurationMs.default(30_000),
          /** Remembered id -> provider answers of ambiguous ids. */
          routeMemoMaxEntries: z.number().int().min(1).default(10_000),
          routeMemoTtlMs: durationMs.default(24 * 60 * 60 * 1000),
        })
        .strict()
        .prefault({}),
      waiters: z
        .object({
          /** Concurrent long-poll and SSE clients; past this a request gets 503. */
          max: wholeNumber.default(20_000),
          keepAliveMs: durationMs.default(15_000),
        })
        .strict()
        .prefault({}),
      /**
       * Connection deadlines and the connection cap (DESIGN.md "Behaviour under load and
       * faults"), so slow or silent clients cannot exhaust the gateway.
       */
      http: z
        .object({
          /** To receive the request line and headers. */
          headersTimeoutMs: durationMs.default(10_000),
          /** To receive the whole request, body included; never cuts an answer being held or streamed. */
          requestTimeoutMs: durationMs.default(30_000),
          /** Longest silence while a request body is being received. */
          bodyIdleTimeoutMs: durationMs.default(10_000),
          /** An idle keep-alive connection is closed after this (longer than common balancers' idle timeouts). */
          keepAliveTimeoutMs: durationMs.default(72_000),
          /** Open connections; past it new ones get a 503 and are closed (and counted). */
          maxConnections: positiveNumber.default(10_000),
        })
        .strict()
        // Node refuses a header deadline past the whole-request one (and it would be meaningless).
        .refine((http) => http.headersTimeoutMs <= http.requestTimeoutMs, {
          path: ['headersTimeoutMs'],
          error: 'must not be longer than http.requestTimeoutMs',
        })
        .prefault({}),
      batch: z
        .object({
          /** Ids of one POST /tasks/batch looked up at once; the rest wait within the request's budget. */
          maxConcurrentLookups: positiveNumber.default(10),
        })
        .strict()
        .prefault({}),
      /**
       * Failed authentications per minute from one client address before its /tasks requests
       * get 429 for the rest of that minute (key guessing); 0 = never throttled.
       */
      authFailuresPerMinute: wholeNumber.default(10),
      /** `Cache-Control: private, max-age=` for terminal tasks. */
      terminalMaxAgeSeconds: wholeNumber.default(300),
      shutdownGraceMs: optionalDurationMs.default(10_000),
      /** On SIGTERM, keep serving (readiness 503) this long before closing the listener. */
      shutdownDelayMs: optionalDurationMs.default(0),
      /**
       * Proxies whose X-Forwarded-* headers are believed (Fastify's `trustProxy`): false
       * (default), true (any), or a list of addresses/CIDRs. Behind a load balancer the
       * per-IP rate limit needs it, or every client shares the balancer's address.
       */
      trustProxy: z.union([z.boolean(), z.array(z.string().min(1)).min(1)]).default(false),
      /** The gateway's own public origin for the URLs it hands out; unset: from each request. */
      publicUrl: httpUrl.optional(),
      /** Signs browser links; unset: a random secret per process (server.ts warns). */
      linkSecret: z.string().min(32, 'must be at least 32 characters').optional(),
      content: z
        .object({
          /**
           * Hosts (`host` or `host:port`) whose result files may be fetched although they
           * resolve to internal addresses; the providers' own origins are always allowed.
           */
          allowHosts: allowHostsSchema.default([]),
        })
        .strict()
        .prefault({}),
      /** Signs webhook deliveries (Standard Webhooks); unset: webhooks are off (503 webhooks_not_configured). */
      webhookSecret: webhookSecret.optional(),
      webhooks: z
        .object({
          /**
           * Delay before each retry of a failed delivery, jittered; the last one repeats until
           * 24 h after the first attempt.
           */
          retryDelaysMs: z.array(durationMs).min(1).default(() => [...DEFAULT_WEBHOOK_RETRY_DELAYS_MS]),
          /** One delivery attempt, connection to the end of the response headers. */
          timeoutMs: durationMs.default(15_000),
          /** Hosts (`host` or `host:port`) that may be targets although they resolve to internal addresses, plain http included. */
          allowHosts: allowHostsSchema.default([]),
          /** Active webhooks in all (the fleet's, in fleet mode); past it a registration gets 503. */
          maxSubscriptions: positiveNumber.default(100_000),
          /** Deliveries in flight at once from this process. */
          concurrency: positiveNumber.default(64),
        })
        .strict()
        .prefault({}),
      /** Fleet mode (REDIS_URL): state shared by every replica through Redis; no url: everything in this process. */
      redis: z
        .object({
          url: redisUrl.optional(),
          /** Namespace of every key and channel. */
          prefix: z.string().min(1).default('taskgate:'),
          /** Longest wait for one Redis command before Redis counts as down (then: in-process fallback). */
          commandTimeoutMs: durationMs.default(50),
          /** How long the boot waits for a first connection before starting in fallback. */
          connectTimeoutMs: durationMs.default(2000),
        })
        .strict()
        .prefault({}),
      maxUpstreamBodyBytes: positiveNumber.default(1024 * 1024),
      upstreamRetries: wholeNumber.default(2),
      tracing: tracingSchema(),
    })
    .strict();
}

export type Config = Readonly<z.output<ReturnType<typeof configSchema>>>;

type Reader = (text: string) => unknown;

const asText: Reader = (text) => text;
/** Digits only: `0x10`, `1e3` or `-5` are refused, not coerced. */
const asWholeNumber: Reader = (text) => {
  if (!/^\d+$/.test(text)) throw new Error('must be a whole number');
  return Number(text);
};
const asList: Reader = (text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
/** The OpenTelemetry spec's booleans: only `true` (any case) is true. */
const asBoolean: Reader = (text) => text.toLowerCase() === 'true';
const asNumber: Reader = (text) => {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new Error('must be a number');
  return Number(text);
};
/** `key1=value1,key2=value2`, values percent-decoded (W3C Baggage, as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written). */
const asKeyValues: Reader = (text) => {
  const pairs: Record<string, string> = {};
  for (const item of asList(text) as string[]) {
    const separator = item.indexOf('=');
    const key = item.slice(0, separator).trim();
    if (separator <= 0 || key === '') throw new Error('must be a list of key=value pairs separated by commas');
    try {
      pairs[key] = decodeURIComponent(item.slice(separator + 1).trim());
    } catch {
      throw new Error(`the value of ${key} is not valid percent-encoding`);
    }
  }
  return pairs;
};
const asOrigins: Reader = (text) => {
  const list = asList(text) as string[];
  if (list.length === 0) return null;
  return list.includes('*') ? '*' : list;
};

/** The OpenTelemetry variables taskgate reads (the SDK is given their values; it reads none itself). */
const TRACING_VARIABLES: ReadonlyArray<readonly [string, string, Reader]> = [
  ['OTEL_SDK_DISABLED', 'sdkDisabled', asBoolean],
  ['OTEL_TRACES_EXPORTER', 'exporter', asText],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'endpoint', asText],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'tracesEndpoint', asText],
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'protocol', asText],
  ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'tracesProtocol', asText],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'headers', asKeyValues],
  ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'tracesHeaders', asKeyValues],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'timeoutMs', asWholeNumber],
  ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'tracesTimeoutMs', asWholeNumber],
  ['OTEL_EXPORTER_OTLP_COMPRESSION', 'compression', asText],
  ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'tracesCompression', asText],
  ['OTEL_SERVICE_NAME', 'serviceName', asText],
  ['OTEL_RESOURCE_ATTRIBUTES', 'resourceAttributes', asKeyValues],
  ['OTEL_TRACES_SAMPLER', 'sampler', asText],
  ['OTEL_TRACES_SAMPLER_ARG', 'samplerArg', asNumber],
  ['OTEL_BSP_SCHEDULE_DELAY', 'batch.scheduleDelayMs', asWholeNumber],
  ['OTEL_BSP_EXPORT_TIMEOUT', 'batch.exportTimeoutMs', asWholeNumber],
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'batch.maxQueueSize', asWholeNumber],
  ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'batch.maxExportBatchSize', asWholeNumber],
];

interface EnvSetting {
  variable: string;
  path: readonly string[];
  read: Reader;
}

/** DESIGN.md's environment variables and the setting each one sets. */
function envSettings(providers: readonly ProviderDefinition[]): EnvSetting[] {
  return [
    { variable: 'PORT', path: ['port'], read: asWholeNumber },
    { variable: 'HOST', path: ['host'], read: asText },
    { variable: 'LOG_LEVEL', path: ['logLevel'], read: asText },
    { variable: 'TASKGATE_API_KEYS', path: ['apiKeys'], read: asList },
    { variable: 'TASKGATE_CORS_ORIGINS', path: ['corsOrigins'], read: asOrigins },
    { variable: 'UPSTREAM_TIMEOUT_MS', path: ['upstreamTimeoutMs'], read: asWholeNumber },
    { variable: 'TASKGATE_RATE_LIMIT', path: ['rateLimitPerMinute'], read: asWholeNumber },
    { variable: 'CIRCUIT_FAILURE_THRESHOLD', path: ['circuit', 'failureThreshold'], read: asWholeNumber },
    { variable: 'CIRCUIT_OPEN_MS', path: ['circuit', 'openMs'], read: asWholeNumber },
    { variable: 'TASKGATE_PUBLIC_URL', path: ['publicUrl'], read: asText },
    { variable: 'TASKGATE_LINK_SECRET', path: ['linkSecret'], read: asText },
    { variable: 'TASKGATE_WEBHOOK_SECRET', path: ['webhookSecret'], read: asText },
    { variable: 'REDIS_URL', path: ['redis', 'url'], read: asText },
    { variable: 'TASKGATE_REDIS_PREFIX', path: ['redis', 'prefix'], read: asText },
    ...TRACING_VARIABLES.map(([variable, key, read]) => ({ variable, path: ['tracing', ...key.split('.')], read })),
    ...providers.flatMap((definition) => [
      { variable: `${definition.envPrefix}_API_KEY`, path: ['providers', definition.name, 'apiKey'], read: asText },
      { variable: `${definition.envPrefix}_BASE_URL`, path: ['providers', definition.name, 'baseUrl'], read: asText },
    ]),
  ];
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`TASKGATE_CONFIG: cannot read the file (${(cause as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('TASKGATE_CONFIG: the file is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError('TASKGATE_CONFIG: the file must hold a JSON object');
  return json as Record<string, unknown>;
}

/** Each issue named after where its value came from: the variable, or the file's path. */
function describeIssues(error: z.ZodError, fromEnv: readonly EnvSetting[]): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String);
      const variable = fromEnv.find((setting) => setting.path.every((key, index) => path[index] === key));
      if (variable !== undefined) return `${variable.variable}: ${issue.message}`;
      return `TASKGATE_CONFIG: ${path.join('.') || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  providers: readonly ProviderDefinition[] = PROVIDERS,
): Config {
  const file = env['TASKGATE_CONFIG']?.trim();
  const settings: Record<string, unknown> = file === undefined || file === '' ? {} : readConfigFile(file);
  const fromEnv: EnvSetting[] = [];
  for (const setting of envSettings(providers)) {
    const text = env[setting.variable]?.trim();
    // An empty variable is an unset one (`VTRIX_API_KEY=` in a compose file).
    if (text === undefined || text === '') continue;
    let value: unknown;
    try {
      value = setting.read(text);
    } catch (error) {
      throw new ConfigError(`${setting.variable}: ${(error as Error).message}`);
    }
    setPath(settings, setting.path, value);
    fromEnv.push(setting);
  }
  const parsed = configSchema(providers).safeParse(settings);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, fromEnv));
  return Object.freeze(parsed.data);
}

/** The command line's environment (src/cli/): it talks to a gateway and has only these two settings, plus how it may draw. */
export interface CliEnvironment {
  /** TASKGATE_URL; `--gateway` overrides it. */
  gatewayUrl: string | undefined;
  /** TASKGATE_API_KEY, sent as a Bearer token. Deliberately no flag: flags land in shell history. */
  apiKey: string | undefined;
  /** False when NO_COLOR is set to anything non-empty (no-color.org) or the terminal is dumb. */
  colorAllowed: boolean;
}

export function readCliEnvironment(env: Record<string, string | undefined> = process.env): CliEnvironment {
  const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
  return {
    gatewayUrl: nonEmpty(env['TASKGATE_URL']),
    apiKey: nonEmpty(env['TASKGATE_API_KEY']),
    colorAllowed: nonEmpty(env['NO_COLOR']) === undefined && env['TERM'] !== 'dumb',
  };
}
