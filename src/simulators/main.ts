/**
 * Runs provider simulators as a standalone process (the benchmarks keep them out of the
 * gateway's process this way, and `npm start` can be tried against them). Prints one JSON
 * line per simulator once it listens:
 *   {"provider":"vtrix","url":"http://127.0.0.1:43121","key":"demo-vtrix-key"}
 * and exits 0 on SIGTERM/SIGINT.
 *
 * node --import tsx src/simulators/main.ts [--provider NAME]... [--host H] [--time-scale F]
 *   [--port NAME=N | --port N]... [--key NAME=K | --key K]...
 * Every provider of the registry by default; `--port N`/`--key K` without a name need a
 * single --provider. Configured by arguments only: a dev tool, it reads no env.
 */
import { parseArgs } from 'node:util';
import { defaultSimulatorKey, SIMULATED_PROVIDERS, startSimulator, type Simulator } from './index.js';

interface LaunchPlan {
  provider: string;
  port: number;
  apiKey: string;
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
    return { provider, port, apiKey: keys.get(provider) ?? keys.get('') ?? defaultSimulatorKey(provider) };
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
    process.stdout.write(`${JSON.stringify({ provider: simulator.provider, url: simulator.url, key: plan.apiKey })}\n`);
  }
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
