/**
 * Runs provider simulators as a standalone process (the benchmarks keep them out of the
 * gateway's process this way). Prints one JSON line per simulator once it listens:
 *   {"provider":"vtrix","url":"http://127.0.0.1:43121"}
 * and exits 0 on SIGTERM/SIGINT.
 *
 * node --import tsx src/simulators/main.ts [--provider vtrix|gravitex|both]... [--port N]
 *   [--host H] [--key K] [--time-scale F] [--vtrix-port N] [--gravitex-port N]
 *   [--vtrix-key K] [--gravitex-key K]
 * Configured by arguments only: this is a dev tool, not the gateway, and reads no env.
 */
import { parseArgs } from 'node:util';
import { startSimulator, type ProviderKind, type Simulator } from './index.js';

const DEFAULT_KEYS: Readonly<Record<ProviderKind, string>> = { vtrix: 'demo-vtrix-key', gravitex: 'demo-gravitex-key' };

interface LaunchPlan {
  provider: ProviderKind;
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

function readPlans(argv: string[]): { plans: LaunchPlan[]; host: string; timeScale: number } {
  const { values } = parseArgs({
    args: argv,
    options: {
      provider: { type: 'string', multiple: true },
      port: { type: 'string' },
      host: { type: 'string' },
      key: { type: 'string' },
      'time-scale': { type: 'string' },
      'vtrix-port': { type: 'string' },
      'gravitex-port': { type: 'string' },
      'vtrix-key': { type: 'string' },
      'gravitex-key': { type: 'string' },
    },
    strict: true,
  });
  const providers = new Set<ProviderKind>();
  for (const name of values.provider ?? ['both']) {
    if (name === 'both') {
      providers.add('vtrix').add('gravitex');
    } else if (name === 'vtrix' || name === 'gravitex') {
      providers.add(name);
    } else {
      fail(`unknown --provider "${name}" (vtrix, gravitex or both)`);
    }
  }
  const single = providers.size === 1;
  if (!single && (values.port !== undefined || values.key !== undefined)) {
    fail('--port and --key need a single --provider; use --vtrix-port/--gravitex-port and --vtrix-key/--gravitex-key');
  }
  const plans = [...providers].map((provider) => {
    const port = parseNumber(`${provider}-port`, values[`${provider}-port`] ?? values.port, 0);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`port must be 0-65535, got ${port}`);
    return { provider, port, apiKey: values[`${provider}-key`] ?? values.key ?? DEFAULT_KEYS[provider] };
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
    process.stdout.write(`${JSON.stringify({ provider: simulator.provider, url: simulator.url })}\n`);
  }
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
