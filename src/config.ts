/**
 * The one place that reads the environment. Everything is parsed once, by zod, into a
 * frozen Config that is passed in to whatever needs it; a bad value stops the boot with
 * a message that names the variable.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PROVIDERS } from './providers/index.js';
import type { ProviderDefinition } from './providers/types.js';

export interface RoutingRule {
  /** Matches ids that start with this text. */
  prefix?: string;
  /** Matches ids this regular expression accepts (anchor it yourself). */
  pattern?: string;
  /** Candidates in order of preference; more than one makes the id ambiguous. */
  providers: string[];
}

export interface ProviderConfig {
  name: string;
  /** Undefined: the provider is not configured and answers 503 provider_not_configured. */
  apiKey: string | undefined;
  baseUrl: string;
  pollIntervalMs: number;
  connections: number;
}

export interface Config {
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Empty: the API is open. */
  apiKeys: string[];
  /** Null: no CORS headers; `*`: any origin. */
  corsOrigins: string[] | '*' | null;
  upstreamTimeoutMs: number;
  /** Requests per minute per client key (per IP when open); 0 = off. */
  rateLimitPerMinute: number;
  circuit: { failureThreshold: number; openMs: number };
  providers: Record<string, ProviderConfig>;
  routes: RoutingRule[];
  cache: {
    /** Terminal tasks kept in memory (LRU). */
    terminalMaxEntries: number;
    terminalTtlMs: number;
    /** How long a non-terminal answer may be reused; never more than 1 s or poll_after_ms. */
    freshMs: number;
    /** Remembered id -> provider answers of ambiguous ids. */
    routeMemoMaxEntries: number;
  };
  waiters: {
    /** Concurrent long-poll and SSE clients; past this a request gets 503. */
    max: number;
    keepAliveMs: number;
  };
  /** `Cache-Control: private, max-age=` for terminal tasks. */
  terminalMaxAgeSeconds: number;
  shutdownGraceMs: number;
  /**
   * Proxies whose X-Forwarded-For is believed (Fastify's `trustProxy`): false (default),
   * true (any), or a list of addresses/CIDRs. Behind a load balancer the per-IP rate limit
   * needs it, or every client shares the balancer's address.
   */
  trustProxy: boolean | string[];
  maxUpstreamBodyBytes: number;
  upstreamRetries: number;
}

export const DEFAULT_ROUTES: RoutingRule[] = [
  { prefix: 'video_', providers: ['gravitex'] },
  { pattern: '^[0-9a-v]{20}$', providers: ['vtrix'] },
  { prefix: 'task_', providers: ['vtrix', 'gravitex'] },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const httpUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
  .transform((value) => value.replace(/\/+$/, ''));

const commaList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item.length > 0));

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value));

const EnvSchema = z.object({
  PORT: integer(0, 65535).default(8080),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TASKGATE_API_KEYS: commaList.optional(),
  TASKGATE_CORS_ORIGINS: commaList.optional(),
  UPSTREAM_TIMEOUT_MS: integer(1, 600_000).default(10_000),
  TASKGATE_RATE_LIMIT: integer(0, 10_000_000).default(600),
  CIRCUIT_FAILURE_THRESHOLD: integer(1, 10_000).default(5),
  CIRCUIT_OPEN_MS: integer(1, 3_600_000).default(30_000),
  TASKGATE_CONFIG: optionalText,
});

const ProviderFileSettings = z
  .object({
    baseUrl: httpUrl.optional(),
    pollIntervalMs: z.number().int().min(100).max(600_000).optional(),
    connections: z.number().int().min(1).max(1024).optional(),
  })
  .strict();

/** The optional TASKGATE_CONFIG file: routing rules and per-provider settings. */
const FileSchema = z
  .object({
    routes: z
      .array(
        z
          .object({
            prefix: z.string().min(1).optional(),
            pattern: z.string().min(1).optional(),
            providers: z.array(z.string().min(1)).min(1),
          })
          .strict()
          .refine((rule) => (rule.prefix === undefined) !== (rule.pattern === undefined), {
            error: 'a rule needs exactly one of prefix or pattern',
          }),
      )
      .optional(),
    providers: z.record(z.string(), ProviderFileSettings).optional(),
    cache: z
      .object({
        terminalMaxEntries: z.number().int().min(1).optional(),
        terminalTtlMs: z.number().int().min(1).optional(),
        freshMs: z.number().int().min(0).max(1000).optional(),
        routeMemoMaxEntries: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    waiters: z
      .object({ max: z.number().int().min(0).optional(), keepAliveMs: z.number().int().min(1000).optional() })
      .strict()
      .optional(),
    terminalMaxAgeSeconds: z.number().int().min(0).optional(),
    shutdownGraceMs: z.number().int().min(0).optional(),
    trustProxy: z.union([z.boolean(), z.array(z.string().min(1)).min(1)]).optional(),
  })
  .strict();
type FileSettings = z.infer<typeof FileSchema>;

function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => `${prefix}${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

function readConfigFile(path: string): FileSettings {
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
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(`TASKGATE_CONFIG: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function providerConfig(
  definition: ProviderDefinition,
  env: Record<string, string | undefined>,
  file: FileSettings,
): ProviderConfig {
  const keyVariable = `${definition.envPrefix}_API_KEY`;
  const urlVariable = `${definition.envPrefix}_BASE_URL`;
  const fromFile = file.providers?.[definition.name] ?? {};
  let baseUrl = fromFile.baseUrl ?? definition.defaultBaseUrl;
  const rawUrl = env[urlVariable];
  if (rawUrl !== undefined && rawUrl.trim() !== '') {
    const parsed = httpUrl.safeParse(rawUrl);
    if (!parsed.success) throw new ConfigError(`${urlVariable}: must be an http(s) URL`);
    baseUrl = parsed.data;
  }
  const apiKey = optionalText.parse(env[keyVariable]);
  if (apiKey !== undefined && /[\r\n]/.test(apiKey)) throw new ConfigError(`${keyVariable}: must be one line`);
  return {
    name: definition.name,
    apiKey,
    baseUrl,
    pollIntervalMs: fromFile.pollIntervalMs ?? definition.defaultPollIntervalMs,
    connections: fromFile.connections ?? 128,
  };
}

function validateRoutes(routes: RoutingRule[], providerNames: Set<string>): RoutingRule[] {
  routes.forEach((rule, index) => {
    for (const name of rule.providers) {
      if (!providerNames.has(name)) {
        throw new ConfigError(`TASKGATE_CONFIG: routes.${index} names an unknown provider "${name}"`);
      }
    }
    if (rule.pattern !== undefined) {
      try {
        new RegExp(rule.pattern);
      } catch {
        throw new ConfigError(`TASKGATE_CONFIG: routes.${index}.pattern is not a valid regular expression`);
      }
    }
  });
  return routes;
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  providers: readonly ProviderDefinition[] = PROVIDERS,
): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    // The path of a zod issue here is the variable's name, so the message names it.
    throw new ConfigError(describeIssues(parsed.error));
  }
  const vars = parsed.data;
  const file = vars.TASKGATE_CONFIG === undefined ? {} : readConfigFile(vars.TASKGATE_CONFIG);

  const apiKeys = vars.TASKGATE_API_KEYS ?? [];
  const corsList = vars.TASKGATE_CORS_ORIGINS;
  const corsOrigins = corsList === undefined || corsList.length === 0 ? null : corsList.includes('*') ? '*' : corsList;
  if (Array.isArray(corsOrigins)) {
    for (const origin of corsOrigins) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
        throw new ConfigError(`TASKGATE_CORS_ORIGINS: "${origin}" is not an origin like https://app.example`);
      }
    }
  }

  const providerConfigs: Record<string, ProviderConfig> = {};
  for (const definition of providers) providerConfigs[definition.name] = providerConfig(definition, env, file);

  return Object.freeze({
    port: vars.PORT,
    host: vars.HOST,
    logLevel: vars.LOG_LEVEL,
    apiKeys,
    corsOrigins,
    upstreamTimeoutMs: vars.UPSTREAM_TIMEOUT_MS,
    rateLimitPerMinute: vars.TASKGATE_RATE_LIMIT,
    circuit: { failureThreshold: vars.CIRCUIT_FAILURE_THRESHOLD, openMs: vars.CIRCUIT_OPEN_MS },
    providers: providerConfigs,
    routes: validateRoutes(file.routes ?? DEFAULT_ROUTES, new Set(providers.map((provider) => provider.name))),
    cache: {
      terminalMaxEntries: file.cache?.terminalMaxEntries ?? 10_000,
      terminalTtlMs: file.cache?.terminalTtlMs ?? 60 * 60 * 1000,
      freshMs: file.cache?.freshMs ?? 1000,
      routeMemoMaxEntries: file.cache?.routeMemoMaxEntries ?? 10_000,
    },
    waiters: { max: file.waiters?.max ?? 20_000, keepAliveMs: file.waiters?.keepAliveMs ?? 15_000 },
    terminalMaxAgeSeconds: file.terminalMaxAgeSeconds ?? 300,
    shutdownGraceMs: file.shutdownGraceMs ?? 10_000,
    trustProxy: file.trustProxy ?? false,
    maxUpstreamBodyBytes: 1024 * 1024,
    upstreamRetries: 2,
  });
}
