/**
 * Runs provider simulators as a standalone process (the benchmarks keep them out of the
 * gateway's process this way, and `npm start` can be tried against them). Prints one JSON
 * line per simulator once it listens: its URL, the environment a gateway needs to use it
 * (credentials and base URL), and the headers a direct client sends:
 *   {"provider":"vtrix","url":"http://127.0.0.1:43121","env":{"VTRIX_API_KEY":"demo-vtrix-key",…},"headers":{…}}
 * and exits 0 on SIGTERM/SIGINT.
 *
 * node --import tsx src/simulators/main.ts [--provider NAME]... [--host H] [--time-scale F]
 *   [--port NAME=N | --port N]... [--key NAME=K | --key K]...
 * Every provider of the registry by default; `--port N`/`--key K` without a name need a
 * single --provider; `--key` is the key of a provider with one API key, and the word the
 * credentials of the others are made from (as the demo's are).
 * Configured by arguments only: a dev tool, it reads no env.
 */
import { parseArgs } from 'node:util';
import { SIMULATED_PROVIDERS, simulatorCredentialValues, startSimulator, type Simulator } from './index.js';

interface LaunchPlan {
  provider: string;
  port: number;
  credentials: Record<string, string>;
}

function fail(message: string): never {
  process.stderr.write(`simulators: ${message}\n`);
  process.exit(2);
}

function parseNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) fail(`--${name} must be a number, got "${text}"`);
  return value;
}

/** `NAME=VALUE` entries by name, and a bare `VALUE` under the empty name. */
function byProvider(flag: string, entries: readonly string[], providers: ReadonlySet<string>): Map<string, string> {
  const values = new Map<string, string>();
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    const name = equals === -1 ? '' : entry.slice(0, equals);
    if (name !== '' && !providers.has(name)) fail(`--${flag} ${entry}: "${name}" is not one of the simulated providers`);
    values.set(name, equals === -1 ? entry : entry.slice(equals + 1));
  }
  if (values.has('') && providers.size !== 1) fail(`--${flag} without a name needs a single --provider; use --${flag} NAME=VALUE`);
  return values;
}

/** `--key K`: the key itself for a provider with one API key; else the word its credentials are made from. */
function credentialsFrom(provider: string, key: string | undefined): Record<string, string> {
  const values = simulatorCredentialValues(provider, key ?? 'demo');
  return key !== undefined && Object.keys(values).length === 1 && 'apiKey' in values ? { apiKey: key } : values;
}

function readPlans(argv: string[]): { plans: LaunchPlan[]; host: string; timeScale: number } {
  const { values } = parseArgs({
    args: argv,
    options: {
      provider: { type: 'string', multiple: true },
      port: { type: 'string', multiple: true },
      host: { type: 'string' },
      key: { type: 'string', multiple: true },
      'time-scale': { type: 'string' },
    },
    strict: true,
  });
  const providers = new Set<string>();
  for (const name of values.provider ?? SIMULATED_PROVIDERS) {
    if (!SIMULATED_PROVIDERS.includes(name)) fail(`unknown --provider "${name}" (one of ${SIMULATED_PROVIDERS.join(', ')})`);
    providers.add(name);
  }
  const ports = byProvider('port', values.port ?? [], providers);
  const keys = byProvider('key', values.key ?? [], providers);
  const plans = [...providers].map((provider) => {
    const port = parseNumber('port', ports.get(provider) ?? ports.get(''), 0);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`port must be 0-65535, got ${port}`);
    return { provider, port, credentials: credentialsFrom(provider, keys.get(provider) ?? keys.get('')) };
  });
  const timeScale = parseNumber('time-scale', values['time-scale'], 1);
  if (!(timeScale > 0)) fail(`--time-scale must be positive, got ${timeScale}`);
  return { plans, host: values.host ?? '127.0.0.1', timeScale };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof readPlans>;
  try {
    options = readPlans(process.argv.slice(2));
  } catch (error) {
    fail((error as Error).message);
  }
  const simulators: Simulator[] = [];
  const shutdown = (): void => {
    Promise.all(simulators.map((simulator) => simulator.close())).then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  for (const plan of options.plans) {
    const simulator = await startSimulator({ ...plan, host: options.host, timeScale: options.timeScale });
    simulators.push(simulator);
    process.stdout.write(`${JSON.stringify({ provider: simulator.provider, url: simulator.url, env: simulator.env, headers: simulator.clientHeaders })}\n`);
  }
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
