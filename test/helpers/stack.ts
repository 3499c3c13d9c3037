/**
 * A real stack for route tests: both provider simulators on loopback (port 0) and the
 * gateway built on them, closed when the test ends.
 */
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startSimulator, type Simulator } from '../../src/simulators/index.js';

export const VTRIX_KEY = 'test-vtrix-key-3f9a';
export const GRAVITEX_KEY = 'sk-test-gravitex-key-77c1';

export interface Stack {
  app: FastifyInstance;
  config: Config;
  vtrix: Simulator;
  gravitex: Simulator;
}

export interface StackOptions {
  /** Extra environment for loadConfig (e.g. UPSTREAM_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Adjusts the parsed config (poll intervals, cache sizes…). */
  configure?: (config: Config) => Config;
  timeScale?: number;
  /** Leave a provider without a key. */
  unconfigured?: Array<'vtrix' | 'gravitex'>;
}

type Closable = { after(fn: () => Promise<void> | void): void };

export async function startStack(t: TestContext | Closable, options: StackOptions = {}): Promise<Stack> {
  const timeScale = options.timeScale ?? 1;
  const vtrix = await startSimulator({ provider: 'vtrix', apiKey: VTRIX_KEY, timeScale });
  const gravitex = await startSimulator({ provider: 'gravitex', apiKey: GRAVITEX_KEY, timeScale });
  const unconfigured = new Set(options.unconfigured ?? []);
  const env: Record<string, string> = {
    VTRIX_BASE_URL: vtrix.url,
    GRAVITEX_BASE_URL: gravitex.url,
    ...(unconfigured.has('vtrix') ? {} : { VTRIX_API_KEY: VTRIX_KEY }),
    ...(unconfigured.has('gravitex') ? {} : { GRAVITEX_API_KEY: GRAVITEX_KEY }),
    ...options.env,
  };
  const parsed = loadConfig(env);
  const config = options.configure ? options.configure(parsed) : parsed;
  const app = await buildApp(config, { logger: false });
  t.after(async () => {
    await app.close();
    await Promise.all([vtrix.close(), gravitex.close()]);
  });
  return { app, config, vtrix, gravitex };
}

/** A copy of the config with one provider's poll interval changed. */
export function withPollInterval(config: Config, pollIntervalMs: number): Config {
  const providers = Object.fromEntries(
    Object.entries(config.providers).map(([name, settings]) => [name, { ...settings, pollIntervalMs }]),
  );
  return { ...config, providers };
}

export function json<T = Record<string, unknown>>(response: { body: string }): T {
  return JSON.parse(response.body) as T;
}
