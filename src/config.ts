/**
 * The one place that reads the server's environment. Every setting lives once, in the
 * schema of src/settings/schema.ts; the environment variables and the optional
 * TASKGATE_CONFIG file (a path, or the JSON itself) are two ways to set it, and the
 * environment wins. A bad value stops the boot with a message that names the variable
 * (or the file and the setting's path in it).
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ARCHIVE_ENV_SETTINGS } from './archive/settings.js';
import { PROVIDERS } from './providers/index.js';
import type { ProviderDefinition } from './providers/types.js';
import type { EnvKind, EnvSetting } from './settings/primitives.js';
import { ConfigError } from './settings/errors.js';
import { baseUrlVariable, configSchema, type Config } from './settings/schema.js';
import { TRACING_ENV_SETTINGS } from './tracing/settings.js';


export { ConfigError } from './settings/errors.js';

/**
 * The process's environment, read here and nowhere else: the server's entry hands it to
 * loadConfig, the CLI's to readCliEnvironment; everything past the entries gets parsed values.
 */
export function processEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

const asList = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** How each kind of variable's text becomes a value; a reader throws a message for the variable. */
const READERS: Readonly<Record<EnvKind, (text: string) => unknown>> = {
  text: (text) => text,
  /** Digits only: `0x10`, `1e3` or `-5` are refused, not coerced. */
  wholeNumber: (text) => {
    if (!/^\d+$/.test(text)) throw new Error('must be a whole number');
    return Number(text);
  },
  number: (text) => {
    if (!/^\d+(\.\d+)?$/.test(text)) throw new Error('must be a number');
    return Number(text);
  },
  /** The OpenTelemetry spec's booleans: only `true` (any case) is true. */
  boolean: (text) => text.toLowerCase() === 'true',
  list: asList,
  /** `key1=value1,key2=value2`, values percent-decoded (W3C Baggage, as the OTEL_* lists are written). */
  keyValues: (text) => {
    const pairs: Record<string, string> = {};
    for (const item of asList(text)) {
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
  },
  origins: (text) => {
    const list = asList(text);
    if (list.length === 0) return null;
    return list.includes('*') ? '*' : list;
  },
};

/** The environment variables of the server and the setting each one sets. */
function envSettings(providers: readonly ProviderDefinition[]): EnvSetting[] {
  return [
    { variable: 'PORT', path: ['port'], kind: 'wholeNumber' },
    { variable: 'HOST', path: ['host'], kind: 'text' },
    { variable: 'LOG_LEVEL', path: ['logLevel'], kind: 'text' },
    { variable: 'TASKGATE_API_KEYS', path: ['apiKeys'], kind: 'list' },
    { variable: 'TASKGATE_CORS_ORIGINS', path: ['corsOrigins'], kind: 'origins' },
    { variable: 'UPSTREAM_TIMEOUT_MS', path: ['upstreamTimeoutMs'], kind: 'wholeNumber' },
    { variable: 'TASKGATE_RATE_LIMIT', path: ['rateLimitPerMinute'], kind: 'wholeNumber' },
    { variable: 'CIRCUIT_FAILURE_THRESHOLD', path: ['circuit', 'failureThreshold'], kind: 'wholeNumber' },
    { variable: 'CIRCUIT_OPEN_MS', path: ['circuit', 'openMs'], kind: 'wholeNumber' },
    { variable: 'TASKGATE_PUBLIC_URL', path: ['publicUrl'], kind: 'text' },
    { variable: 'TASKGATE_LINK_SECRET', path: ['linkSecret'], kind: 'text' },
    { variable: 'TASKGATE_WEBHOOK_SECRET', path: ['webhookSecret'], kind: 'text' },
    { variable: 'REDIS_URL', path: ['redis', 'url'], kind: 'text' },
    { variable: 'TASKGATE_REDIS_PREFIX', path: ['redis', 'prefix'], kind: 'text' },
    ...TRACING_ENV_SETTINGS,
    ...ARCHIVE_ENV_SETTINGS,
    ...providers.flatMap((definition): EnvSetting[] => [
      ...definition.credentials.map((spec): EnvSetting => ({ variable: spec.env, path: ['providers', definition.name, spec.setting], kind: 'text' })),
      { variable: baseUrlVariable(definition), path: ['providers', definition.name, 'baseUrl'], kind: 'text' },
      ...(definition.urls ?? []).map((spec): EnvSetting => ({ variable: spec.env, path: ['providers', definition.name, spec.setting], kind: 'text' })),
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

/**
 * TASKGATE_CONFIG: the path of a JSON file, or (starting with `{`) the JSON itself, as a
 * container platform's inline setting gives it.
 */
function readConfigFile(value: string): Record<string, unknown> {
  const inline = value.startsWith('{');
  let text = value;
  if (!inline) {
    try {
      text = readFileSync(value, 'utf8');
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigError(`TASKGATE_CONFIG: cannot read the file ${JSON.stringify(value)} (${code}); it takes the path of a JSON file, or the JSON itself`);
    }
  }
  const where = inline ? 'the value' : `the file ${JSON.stringify(value)}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`TASKGATE_CONFIG: ${where} is not valid JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`TASKGATE_CONFIG: ${where} must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** Each issue named after where its value came from: the variable, or the file's path. */
function describeIssues(error: z.ZodError, fromEnv: readonly EnvSetting[]): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String);
      const variable = fromEnv.find((setting) => setting.path.every((key, index) => path[index] === key));
      if (variable !== undefined) return `${variable.variable}: ${issue.message}`;
      // A setting missing because of another one names its own variable (OPENAI_BASE_URL with OPENAI_API_KEY).
      const named = issue.code === 'custom' ? (issue.params as { variable?: unknown } | undefined)?.variable : undefined;
      if (typeof named === 'string') return `${named}: ${issue.message}`;
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
      value = READERS[setting.kind](text);
    } catch (error) {
      throw new ConfigError(`${setting.variable}: ${(error as Error).message}`);
    }
    setPath(settings, setting.path, value);
    // A later variable of the same setting wins (AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL), and is the one named.
    const replaced = fromEnv.findIndex((earlier) => earlier.path.join('.') === setting.path.join('.'));
    if (replaced !== -1) fromEnv.splice(replaced, 1);
    fromEnv.push(setting);
  }
  const parsed = configSchema(providers).safeParse(settings);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, fromEnv));
  return Object.freeze(parsed.data);
}
