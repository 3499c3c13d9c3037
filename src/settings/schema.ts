/**
 * Every setting of the server, once: a zod schema with each setting's default and bounds.
 * src/config.ts fills it from the environment and the TASKGATE_CONFIG file; the result, a
 * frozen Config, is passed in to whatever needs it.
 */
import { z } from 'zod';
import { archiveSettingsSchema } from '../archive/settings.js';
import { allowHostsSchema } from '../content/address-guard.js';
import type { ProviderDefinition, ProviderSettings } from '../providers/types.js';
import { defaultRoutes, RoutingRuleSchema } from '../routing.js';
import { tracingSettingsSchema } from '../tracing/settings.js';
import { durationMs, httpUrl, optionalDurationMs, positiveNumber, wholeNumber } from './primitives.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** About 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h. */
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

/** `<NAME>_BASE_URL`: every provider's base URL override. */
export function baseUrlVariable(definition: Pick<ProviderDefinition, 'name'>): string {
  return `${definition.name.toUpperCase()}_BASE_URL`;
}

const credential = z.string().regex(/^[^\r\n]+$/, 'must be one line');

/**
 * A provider's settings from its declaration: each credential (the provider is configured
 * once all are set, and a half-set provider is refused at boot), its base URL (required
 * with the credentials when it has no default) and its other URLs.
 */
function providerSchema(definition: ProviderDefinition) {
  const names = definition.credentials.map((spec) => spec.setting);
  return z
    .object({
      ...Object.fromEntries(names.map((name) => [name, credential.optional()])),
      baseUrl: definition.defaultBaseUrl === undefined ? httpUrl.optional() : httpUrl.default(definition.defaultBaseUrl),
      ...Object.fromEntries((definition.urls ?? []).map((spec) => [spec.setting, httpUrl.default(spec.default)])),
      pollIntervalMs: durationMs.default(definition.cadenceMs),
      connections: positiveNumber.default(128),
      /** Upstream requests per second, client lookups and poll loops together (the fleet's, in fleet mode). */
      maxRequestsPerSecond: positiveNumber.default(50),
    })
    .strict()
    .superRefine((settings, context) => {
      const values = settings as Record<string, unknown>;
      const given = definition.credentials.filter((spec) => values[spec.setting] !== undefined);
      if (given.length === 0) return;
      for (const spec of definition.credentials) {
        if (values[spec.setting] !== undefined) continue;
        context.addIssue({ code: 'custom', path: [spec.setting], params: { variable: spec.env }, message: `is required with ${given.map((other) => other.env).join(', ')}` });
      }
      if (settings.baseUrl === undefined) {
        const why = definition.baseUrlRequired === undefined ? '' : `: ${definition.baseUrlRequired}`;
        context.addIssue({
          code: 'custom',
          path: ['baseUrl'],
          params: { variable: baseUrlVariable(definition) },
          message: `is required with ${given.map((spec) => spec.env).join(', ')}${why}`,
        });
      }
    })
    .transform((settings): ProviderConfig => {
      const values = settings as Record<string, unknown>;
      const credentials = Object.fromEntries(names.map((name) => [name, values[name] as string | undefined]));
      const configured = names.every((name) => credentials[name] !== undefined);
      return {
        name: definition.name,
        credentials: configured ? (credentials as Record<string, string>) : undefined,
        baseUrl: settings.baseUrl,
        urls: Object.fromEntries((definition.urls ?? []).map((spec) => [spec.setting, values[spec.setting] as string])),
        pollIntervalMs: settings.pollIntervalMs,
        connections: settings.connections,
        maxRequestsPerSecond: settings.maxRequestsPerSecond,
      };
    });
}
/** What a provider is given (ProviderSettings), and what the gateway keeps for itself about it. */
export type ProviderConfig = ProviderSettings & {
  /** Its upstream budget: client lookups and poll loops together (src/upstream/budget.ts). */
  readonly maxRequestsPerSecond: number;
};

export function configSchema(providers: readonly ProviderDefinition[]) {
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
              if (!known.has(name)) context.addIssue({ code: 'custom', path: [index, 'providers'], message: `names an unknown provider "${name}" (known: ${[...known].join(', ')})` });
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
      limits: z
        .object({
          /**
           * Watched tasks one client (key, or address when open) holds at once: its waits and
           * SSE streams (per replica) and its active webhooks; past it, 429 quota_exceeded.
           */
          watchesPerClient: positiveNumber.default(1000),
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
       * Connection deadlines and the connection cap (docs/operations.md), so slow or silent clients cannot exhaust the gateway.
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
          /** `/content` streams one client (key, or address when open) holds at once; past it, 429 quota_exceeded. */
          maxStreamsPerClient: positiveNumber.default(16),
          /** Connections to one file origin at once; a request waiting for one past UPSTREAM_TIMEOUT_MS is a 504. */
          connections: positiveNumber.default(256),
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
          /** Webhooks one client (key, or address when open) holds, active and ended; its oldest ended ones make room, and when all are active a registration gets 429. */
          maxPerClient: positiveNumber.default(1000),
          /** Deliveries in flight at once from this process. */
          concurrency: positiveNumber.default(64),
          /** Of those, deliveries to one receiver origin at most: a receiver that hangs delays only its own. */
          perTargetConcurrency: positiveNumber.default(4),
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
      /** The result archive (TASKGATE_ARCHIVE): every result file and finished task kept; no url: off. */
      archive: archiveSettingsSchema,
      maxUpstreamBodyBytes: positiveNumber.default(1024 * 1024),
      upstreamRetries: wholeNumber.default(2),
      tracing: tracingSettingsSchema(),
    })
    .strict();
}

export type Config = Readonly<z.output<ReturnType<typeof configSchema>>>;
