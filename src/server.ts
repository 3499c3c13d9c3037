/**
 * The production entry point: load the config, build the app, listen; on SIGTERM/SIGINT
 * run the app's own graceful shutdown (src/plugins/lifecycle.ts), bounded by
 * close-with-grace so the process always exits. Logs go through a sink that never blocks
 * (src/log-sink.ts): a stalled stdout must not hold the exit, nor the requests.
 */
import { pathToFileURL } from 'node:url';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, processEnvironment } from './config.js';
import type { Config } from './settings/schema.js';
import { LogSink } from './log-sink.js';
import { Metrics } from './metrics.js';
import { PROVIDERS } from './providers/index.js';

const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.apiKey',
  '*.apiKeys',
  '*.credentials',
  'config.providers.*.credentials',
  // The S3 archive's secrets, wherever its settings could be logged.
  'secretAccessKey',
  'sessionToken',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.s3.secretAccessKey',
  '*.s3.sessionToken',
  'config.archive.s3.secretAccessKey',
  'config.archive.s3.sessionToken',
];
/** After a clean shutdown, how long queued log lines may take to reach stdout. */
const LOG_DRAIN_MS = 500;
/**
 * close-with-grace's backstop (exit 1) beyond the app's own bound (shutdownDelayMs +
 * shutdownGraceMs + a second for the pools): reached only if something truly hangs.
 */
const EXIT_BACKSTOP_MS = 2000;

/** The production logger settings; exported so tests capture logs exactly as redacted here. */
export function loggerOptions(level: Config['logLevel']) {
  return { level, redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' } };
}

/** A client key shorter than this can be guessed from a dictionary, whatever the throttle allows. */
export const MIN_CLIENT_KEY_LENGTH = 16;

/** What the boot warns about in the client keys (never saying a key, only its place in the list). */
export function clientKeyWarnings(apiKeys: readonly string[]): string[] {
  if (apiKeys.length === 0) return ['TASKGATE_API_KEYS is not set: /tasks is open to anyone who can reach this gateway'];
  const short = apiKeys.flatMap((key, index) => (key.length < MIN_CLIENT_KEY_LENGTH ? [index + 1] : []));
  if (short.length === 0) return [];
  const which = short.length === 1 ? `key ${short[0]}` : `keys ${short.join(', ')}`;
  return [
    `TASKGATE_API_KEYS: ${which} of ${apiKeys.length} ${short.length === 1 ? 'is' : 'are'} shorter than ${MIN_CLIENT_KEY_LENGTH} characters and can be guessed; use random keys (e.g. openssl rand -hex 24)`,
  ];
}

export async function startServer(config: Config) {
  const metrics = new Metrics();
  const logSink = new LogSink(process.stdout, { onDrop: () => metrics.droppedLogLines.inc() });
  const app = await buildApp(config, { logger: { ...loggerOptions(config.logLevel), stream: logSink }, metrics });
  for (const warning of clientKeyWarnings(config.apiKeys)) app.log.warn(warning);
  const unconfigured = PROVIDERS.filter((definition) => config.providers[definition.name]?.credentials === undefined);
  if (unconfigured.length > 0) {
    const settings = unconfigured.map((definition) => `${definition.name} (${definition.credentials.map((spec) => spec.env).join(' + ')})`);
    app.log.warn({ providers: unconfigured.map((definition) => definition.name) }, `not configured, their tasks answer 503 provider_not_configured: ${settings.join(', ')}`);
  }

  closeWithGrace(
    { delay: config.shutdownDelayMs + config.shutdownGraceMs + EXIT_BACKSTOP_MS, logger: { error: (message: unknown) => app.log.error(message) } },
    async ({ signal, err }) => {
      if (err) app.log.error({ err }, 'shutting down after an error');
      else app.log.info({ signal }, 'shutting down');
      await app.shutdown();
      app.log.info('shut down');
      await logSink.drain(LOG_DRAIN_MS);
    },
  );

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw error;
    const why = code === 'EADDRINUSE' ? 'another process is listening there' : code === 'EACCES' ? 'this user may not listen there' : 'this host has no such address';
    app.log.fatal(`cannot listen on ${config.host}:${config.port} (${code}): ${why}; set PORT (and HOST) to a free address, e.g. PORT=${config.port + 1}`);
    await app.close();
    await logSink.drain(LOG_DRAIN_MS);
    process.exit(1);
  }
  return app;
}

/**
 * The environment's configuration, then the server; an invalid configuration (read, or
 * found when a provider connects with it) exits 1 naming the variable.
 */
export async function main(): Promise<void> {
  try {
    await startServer(loadConfig(processEnvironment()));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`taskgate: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

// Only when run directly (node --import tsx src/server.ts), not when imported (src/launch.ts, tests).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
