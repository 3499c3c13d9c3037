/**
 * A real stack for route tests: a simulator of every provider in the registry on loopback
 * (port 0) and the gateway built on them, closed when the test ends.
 */
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { type Config } from '../../src/settings/schema.js';
import { PROVIDERS, type ProviderName } from '../../src/providers/index.js';
import { simulatorCredentialValues, startSimulator, type Simulator } from '../../src/simulators/index.js';

/** Each provider's credentials in tests, by setting name: what its simulator expects and the gateway is given. */
export const PROVIDER_CREDENTIALS = Object.fromEntries(
  PROVIDERS.map((provider) => [provider.name, simulatorCredentialValues(provider.name, 'test-3f9a')]),
) as Record<ProviderName, Record<string, string>>;
/** The key of each one-key provider (undefined for those with other credentials). */
export const PROVIDER_KEYS = Object.fromEntries(PROVIDERS.map((provider) => [provider.name, PROVIDER_CREDENTIALS[provider.name]['apiKey']])) as Record<
  ProviderName,
  string
>;
export const VTRIX_KEY = PROVIDER_KEYS.vtrix;
export const GRAVITEX_KEY = PROVIDER_KEYS.gravitex;

export type Simulators = Record<ProviderName, Simulator>;

export type Stack = {
  app: FastifyInstance;
  config: Config;
  simulators: Simulators;
} & Simulators;

export interface StackOptions {
  /** Extra environment for loadConfig (e.g. UPSTREAM_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Adjusts the parsed config (poll intervals, cache sizes…). */
  configure?: (config: Config) => Config;
  timeScale?: number;
  /** Leave these providers without a key. */
  unconfigured?: ProviderName[];
  /** The result archive's clock (retention tests move it). */
  archiveClock?: () => number;
  /** What buildApp is given besides the config (its logger is off). */
  deps?: Omit<AppDeps, 'logger'>;
}

type Closable = { after(fn: () => Promise<void> | void): void };

interface SimulatorOptions {
  timeScale?: number;
  unconfigured?: ProviderName[];
}

interface LaunchedSimulators {
  simulators: Simulators;
  /** The environment that points a gateway at them (keys and base URLs). */
  env: Record<string, string>;
  close: () => Promise<void>;
}

async function launchSimulators(options: SimulatorOptions): Promise<LaunchedSimulators> {
  const unconfigured = new Set(options.unconfigured ?? []);
  const entries = await Promise.all(
    PROVIDERS.map(async (provider) => {
      const simulator = await startSimulator({ provider: provider.name, credentials: PROVIDER_CREDENTIALS[provider.name], timeScale: options.timeScale ?? 1 });
      return [provider, simulator] as const;
    }),
  );
  const env: Record<string, string> = {};
  for (const [provider, simulator] of entries) {
    const credentialVariables = new Set(provider.credentials.map((spec) => spec.env));
    for (const [variable, value] of Object.entries(simulator.env)) {
      // Unconfigured: the simulator's URL still, but none of its credentials.
      if (!unconfigured.has(provider.name) || !credentialVariables.has(variable)) env[variable] = value;
    }
  }
  const simulators = Object.fromEntries(entries.map(([provider, simulator]) => [provider.name, simulator])) as Simulators;
  const close = async () => {
    await Promise.all(entries.map(([, simulator]) => simulator.close()));
  };
  return { simulators, env, close };
}

/** Simulators of every provider, closed when the test ends, and the environment for a gateway. */
export async function startSimulators(t: TestContext | Closable, options: SimulatorOptions = {}) {
  const launched = await launchSimulators(options);
  t.after(launched.close);
  return { simulators: launched.simulators, env: launched.env };
}

export async function startStack(t: TestContext | Closable, options: StackOptions = {}): Promise<Stack> {
  const { simulators, env, close } = await launchSimulators(options);
  const parsed = loadConfig({ ...env, ...options.env });
  const config = options.configure ? options.configure(parsed) : parsed;
  const app = await buildApp(config, { archiveClock: options.archiveClock, ...options.deps, logger: false });
  t.after(async () => {
    await app.close();
    await close();
  });
  return { app, config, simulators, ...simulators };
}

/** A copy of the config with every provider's poll interval changed. */
export function withPollInterval(config: Config, pollIntervalMs: number): Config {
  const providers = Object.fromEntries(
    Object.entries(config.providers).map(([name, settings]) => [name, { ...settings, pollIntervalMs }]),
  );
  return { ...config, providers };
}

export function json<T = Record<string, unknown>>(response: { body: string }): T {
  return JSON.parse(response.body) as T;
}
