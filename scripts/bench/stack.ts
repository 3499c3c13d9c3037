/**
 * The system under test, each part in its own process: the provider simulators
 * (src/simulators/main.ts, every provider of the registry) and the gateway's production
 * entry configured by environment only, exactly as `npm start` runs it. Nothing here names
 * a provider: the registry says which there are, each simulator's JSON line says where it
 * listens and with which key, and each profile where its status call lives. Tasks are
 * pinned through the `/__sim/` control API, so their ids may have any shape; the gateway
 * is asked for them by qualified id (`<provider>:<id>`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { PROVIDERS } from '../../src/providers/index.js';
import { loadProfile, type Fault, type TaskScript } from '../../src/simulators/index.js';
import { cpuTimeMs, freePort, spawnProcess, stopProcess, waitFor200, type Spawned } from './processes.js';

/** How the gateway and simulators are run: the compiled `dist/` (production) or the TypeScript sources through tsx. */
export type RunMode = 'dist' | 'source';

export interface RunningProcess {
  name: string;
  url: string;
  pid: number;
  spawned: Spawned;
  stop: () => Promise<void>;
}

/** One provider of the registry as its simulator runs for the bench. */
export interface SimulatedProvider {
  name: string;
  /** The simulator's origin. */
  url: string;
  /** The environment that points a gateway at it: its credentials and base URL. */
  env: Record<string, string>;
  /** Path up to the task id of its status call (the profile's `taskPathPrefix`). */
  taskPathPrefix: string;
  /** The headers a direct client sends it. */
  authHeaders: Record<string, string>;
  /** Its default poll cadence, from the registry. */
  defaultCadenceMs: number;
  /** A native id of the provider's form made from a seed: what bench tasks are pinned and asked as. */
  sampleId: (seed: string) => string;
}

export interface Simulators {
  providers: SimulatedProvider[];
  /** The registry's first provider: where a single-provider scenario (pass-through, content) runs. */
  primary: SimulatedProvider;
  pid: number;
  spawned: Spawned;
  stop: () => Promise<void>;
}

function nodeEntry(mode: RunMode, source: string): string[] {
  if (mode === 'source') return ['--import', 'tsx', source];
  // The gateway runs as `npm start` does: the one-file bundle that `npm run build` makes.
  if (source === 'src/server.ts') return [join('dist', 'taskgate.mjs')];
  return [join('dist', source.replace(/\.ts$/, '.js'))];
}

/** The environment of a server process: this machine's PATH and HOME, nothing of the caller's config. */
function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: process.env['HOME'], TMPDIR: process.env['TMPDIR'], NODE_ENV: 'production' };
}

export async function startSimulators(mode: RunMode): Promise<Simulators> {
  const keys = PROVIDERS.map((provider) => ['--key', `${provider.name}=bench-${provider.name}-key`]).flat();
  const spawned = spawnProcess({
    name: 'simulators',
    command: process.execPath,
    args: [...nodeEntry(mode, 'src/simulators/main.ts'), ...keys],
    env: baseEnv(),
  });
  try {
    const lines = await spawned.jsonLines(PROVIDERS.length);
    const providers = await Promise.all(
      PROVIDERS.map(async (definition): Promise<SimulatedProvider> => {
        const line = lines.find((candidate) => candidate['provider'] === definition.name);
        if (typeof line?.['url'] !== 'string' || typeof line['env'] !== 'object' || typeof line['headers'] !== 'object') {
          throw new Error(`the simulators did not report ${definition.name}`);
        }
        const profile = await loadProfile(definition.name);
        return {
          name: definition.name,
          url: line['url'],
          env: line['env'] as Record<string, string>,
          taskPathPrefix: profile.taskPathPrefix,
          authHeaders: line['headers'] as Record<string, string>,
          defaultCadenceMs: definition.cadenceMs,
          sampleId: (seed) => profile.sampleId?.(seed) ?? seed,
        };
      }),
    );
    return { providers, primary: providers[0]!, pid: spawned.child.pid!, spawned, stop: () => stopProcess(spawned.child) };
  } catch (error) {
    await stopProcess(spawned.child);
    throw error;
  }
}

/** How the gateway asks for a task pinned at `provider`: its qualified id, as one path segment of a gateway URL. */
export function qualifiedId(provider: SimulatedProvider, id: string): string {
  // As one path segment: an id of some providers holds a `/`.
  return `${provider.name}:${encodeURIComponent(id)}`;
}

/** The status call of `id` on the provider's simulator, for direct requests. */
export function directPath(provider: SimulatedProvider, id: string): string {
  return `${provider.taskPathPrefix}${encodeURIComponent(id)}`;
}

/** A per-provider setting for every provider, as TASKGATE_CONFIG's `providers` wants it. */
export function everyProvider(simulators: Simulators, settings: Record<string, unknown>): Record<string, Record<string, unknown>> {
  return Object.fromEntries(simulators.providers.map((provider) => [provider.name, settings]));
}

export interface GatewayOptions {
  mode: RunMode;
  simulators: Simulators;
  /** Written to a temp file and passed as TASKGATE_CONFIG. */
  configFile?: Record<string, unknown>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  /** Extra environment (e.g. REDIS_URL for fleet mode). */
  env?: Record<string, string>;
  /** The node binary (default: the one running the bench), e.g. Node 24 for start-up. */
  nodeBinary?: string;
  /** Another build of the gateway (a bundle), for side-by-side comparisons; default: this one. */
  entry?: string;
}

export interface Gateway extends RunningProcess {
  /** performance.now() just before the process was spawned, and when /healthz first answered 200. */
  spawnedAt: number;
  healthyAt: number;
  /** CPU time (user+sys) the process had used when /healthz first answered 200. */
  cpuMsAtHealthy: number;
  cpuMs(): number;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const port = await freePort();
  let configDirectory: string | undefined;
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TASKGATE_RATE_LIMIT: '0',
  };
  for (const provider of options.simulators.providers) Object.assign(env, provider.env);
  Object.assign(env, options.env);
  if (options.configFile !== undefined) {
    configDirectory = mkdtempSync(join(tmpdir(), 'taskgate-bench-'));
    const path = join(configDirectory, 'taskgate.json');
    writeFileSync(path, JSON.stringify(options.configFile));
    env['TASKGATE_CONFIG'] = path;
  }
  const url = `http://127.0.0.1:${port}`;
  const spawnedAt = performance.now();
  const spawned = spawnProcess({
    name: 'gateway',
    command: options.nodeBinary ?? process.execPath,
    args: [...(options.nodeFlags ?? []), ...(options.entry === undefined ? nodeEntry(options.mode, 'src/server.ts') : [options.entry])],
    env,
  });
  const cleanup = () => {
    if (configDirectory !== undefined) rmSync(configDirectory, { recursive: true, force: true });
  };
  let healthyAt: number;
  try {
    healthyAt = await waitFor200(`${url}/healthz`, spawned.child);
  } catch (error) {
    await stopProcess(spawned.child);
    cleanup();
    throw new Error(`the gateway did not start: ${(error as Error).message}; stderr: ${spawned.stderr().trim()}`);
  }
  const pid = spawned.child.pid!;
  return {
    name: 'gateway',
    url,
    pid,
    spawned,
    spawnedAt,
    healthyAt,
    cpuMsAtHealthy: cpuTimeMs(pid),
    cpuMs: () => cpuTimeMs(pid),
    stop: async () => {
      await stopProcess(spawned.child);
      cleanup();
    },
  };
}

/** A helper server of scripts/bench/ in its own process; it prints a JSON line with its `url` once it listens. */
/** A reference server of scripts/bench/; `nodeFlags` as the gateway's (so `--cpu-prof` profiles both sides). */
export async function startReference(
  name: string,
  file: string,
  args: string[] = [],
  nodeFlags: string[] = [],
): Promise<RunningProcess & { line: Record<string, unknown> }> {
  const spawned = spawnProcess({
    name,
    command: process.execPath,
    args: [...nodeFlags, '--import', 'tsx', join('scripts', 'bench', file), ...args],
    env: baseEnv(),
  });
  const [line] = await spawned.jsonLines(1);
  if (typeof line?.['url'] !== 'string') {
    await stopProcess(spawned.child);
    throw new Error(`${name} did not report its URL`);
  }
  return { name, url: line['url'], pid: spawned.child.pid!, spawned, line, stop: () => stopProcess(spawned.child) };
}

// ---- the simulators' control API (src/simulators/control.ts) ----

async function control(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const response = await request(`${base}/__sim/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`simulator ${method} ${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as unknown;
}

/** Forgets clocks, hits and pinned tasks (and so the memory the unique ids of a pass-through run took). */
export async function resetSimulator(provider: SimulatedProvider): Promise<void> {
  await control(provider.url, 'POST', 'reset');
}

/** Pins a task's story; `*` pins it for every id not pinned on its own (any id then exists). */
export async function pinTask(provider: SimulatedProvider, id: string, script: TaskScript): Promise<void> {
  await control(provider.url, 'POST', `tasks/${encodeURIComponent(id)}`, script);
}

/** Injects a fault into the provider's answers for `id` (`*`: every id), e.g. a latency on every status call. */
export async function injectFault(provider: SimulatedProvider, id: string, fault: Fault): Promise<void> {
  await control(provider.url, 'POST', `faults/${encodeURIComponent(id)}`, fault);
}

export async function simulatorHits(provider: SimulatedProvider): Promise<{ total: number; byId: Record<string, number> }> {
  return (await control(provider.url, 'GET', 'hits')) as { total: number; byId: Record<string, number> };
}

/** The gateway's `/metrics` text. */
export async function gatewayMetrics(gateway: Gateway): Promise<string> {
  const response = await request(`${gateway.url}/metrics`);
  return response.body.text();
}

/** The sum of a metric's samples (those with exactly `labels`, when given) in Prometheus text. */
export function metricSum(metrics: string, name: string, labels?: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    const matches = labels === undefined ? line.startsWith(`${name} `) || line.startsWith(`${name}{`) : line.startsWith(`${name}${labels} `);
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

/** When each of the gateway's status calls for a pinned id reached the simulator (epoch ms). */
export async function simulatorHitTimes(provider: SimulatedProvider, id: string): Promise<number[]> {
  return ((await control(provider.url, 'GET', `hits/${encodeURIComponent(id)}`)) as { times: number[] }).times;
}

/** A task that has already succeeded at its first poll, pinned at the primary provider: its qualified id. */
export async function pinTerminalTask(simulators: Simulators, id = 'bench-succeeded'): Promise<string> {
  await pinTask(simulators.primary, id, { timeline: [{ atMs: 0, status: 'succeeded' }] });
  return qualifiedId(simulators.primary, id);
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inBatches<Item>(items: readonly Item[], limit: number, work: (item: Item, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  });
  await Promise.all(workers);
}

/** What every scenario is told: how long, how often, how to run the gateway. */
export interface BenchSettings {
  mode: RunMode;
  quick: boolean;
  /** Runs per figure; each figure is their median. */
  runs: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Extra node flags for the gateway (e.g. --cpu-prof), for profiling runs. */
  gatewayNodeFlags: string[];
  /** Other node binaries the start-up scenario measures besides the bench's own (e.g. Node 24). */
  otherNodes: string[];
  log: (line: string) => void;
}

/** Turns a run's target list so no target is always measured first (drift, thermal, noise). */
export function rotate<Item>(items: readonly Item[], by: number): Item[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
