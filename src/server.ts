/**
 * The production entry point: load the config, build the app, listen; on SIGTERM/SIGINT
 * run the app's own graceful shutdown (src/plugins/lifecycle.ts), bounded by
 * close-with-grace so the process always exits.
 */
import { pathToFileURL } from 'node:url';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';

const REDACTED_PATHS = ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.apiKeys', 'config.providers.*.apiKey'];

/** The production logger settings; exported so tests capture logs exactly as redacted here. */
export function loggerOptions(level: Config['logLevel']) {
  return { level, redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' } };
}

export async function startServer(config: Config) {
  const app = await buildApp(config, { logger: loggerOptions(config.logLevel) });
  if (config.apiKeys.length === 0) {
    app.log.warn('TASKGATE_API_KEYS is not set: /tasks is open to anyone who can reach this gateway');
  }
  for (const [name, settings] of Object.entries(config.providers)) {
    if (settings.apiKey === undefined) app.log.warn({ provider: name }, `${name} has no API key: its tasks answer 503 provider_not_configured`);
  }

  closeWithGrace({ delay: config.shutdownDelayMs + config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.shutdown();
  });

  await app.listen({ port: config.port, host: config.host });
  return app;
}

// Only when run directly (node dist/taskgate.mjs), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`taskgate: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  await startServer(config);
}
