/**
 * The system under test, each part in its own process: the provider simulators
 * (src/simulators/main.ts) and the gateway's production entry (src/server.ts) configured
 * by environment only, exactly as `npm start` runs it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { cpuTimeMs, freePort, spawnProcess, stopProcess, waitFor200, type Spawned } from './processes.js';

export const VTRIX_KEY = 'bench-vtrix-key';
export const GRAVITEX_KEY = 'bench-gravitex-key';
/** gravitex's documented example video: already succeeded at its first poll. */
export const TERMINAL_TASK_ID = 'video_69095b4ce0048190893a01510c0c98b0';
export const VTRIX_TASK_PATH = '/model/v1/generation/task/';
export const GRAVITEX_TASK_PATH = '/v1/video/generations/';

/** How the gateway and simulators are run: the compiled `dist/` (production) or the TypeScript sources through tsx. */
export type RunMode = 'dist' | 'source';

export interface RunningProcess {
  name: string;
  url: string;
  pid: number;
  spawned: Spawned;
  stop(): Promise<void>;
}

function nodeEntry(mode: RunMode, source: string): string[] {
  if (mode === 'source') return ['--import', 'tsx', source];
  // The gateway runs as `npm start` does: the one-file bundle that `npm run build` makes.
  if (source === 'src/server.ts') return [join('dist', 'taskgate.mjs')];
  return [join('dist', source.replace(/\.ts$/, '.js'))];
}

/** The environment of a server process: this machine's PATH and HOME, nothing of the caller's config. */
function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: process.env['HOME'], NODE_ENV: 'production' };
}

export interface Simulators {
  vtrix: string;
  gravitex: string;
  pid: number;
  spawned: Spawned;
  stop(): Promise<void>;
}

export async function startSimulators(mode: RunMode): Promise<Simulators> {
  const spawned = spawnProcess({
    name: 'simulators',
    command: process.execPath,
    args: [...nodeEntry(mode, 'src/simulators/main.ts'), '--key', `vtrix=${VTRIX_KEY}`, '--key', `gravitex=${GRAVITEX_KEY}`],
    env: baseEnv(),
  });
  const lines = await spawned.jsonLines(2);
  const urlOf = (provider: string) => {
    const line = lines.find((candidate) => candidate['provider'] === provider);
    if (typeof line?.['url'] !== 'string') throw new Error(`the simulators did not report a ${provider} URL`);
    return line['url'];
  };
  return {
    vtrix: urlOf('vtrix'),
    gravitex: urlOf('gravitex'),
    pid: spawned.child.pid!,
    spawned,
    stop: () => stopProcess(spawned.child),
  };
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
}

export interface Gateway extends RunningProcess {
  /** performance.now() just before the process was spawned, and when /healthz first answered 200. */
  spawnedAt: number;
  healthyAt: number;
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
    VTRIX_API_KEY: VTRIX_KEY,
    VTRIX_BASE_URL: options.simulators.vtrix,
    GRAVITEX_API_KEY: GRAVITEX_KEY,
    GRAVITEX_BASE_URL: options.simulators.gravitex,
    ...options.env,
  };
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
    command: process.execPath,
    args: [...(options.nodeFlags ?? []), ...nodeEntry(options.mode, 'src/server.ts')],
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
    cpuMs: () => cpuTimeMs(pid),
    stop: async () => {
      await stopProcess(spawned.child);
      cleanup();
    },
  };
}

/** A reference server of scripts/bench/ in its own process; it prints `{"url": …}` once it listens. */
export async function startReference(name: string, file: string, args: string[] = []): Promise<RunningProcess> {
  const spawned = spawnProcess({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join('scripts', 'bench', file), ...args],
    env: baseEnv(),
  });
  const [line] = await spawned.jsonLines(1);
  if (typeof line?.['url'] !== 'string') throw new Error(`${name} did not report its URL`);
  return { name, url: line['url'], pid: spawned.child.pid!, spawned, stop: () => stopProcess(spawned.child) };
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
export async function resetSimulator(base: string): Promise<void> {
  await control(base, 'POST', 'reset');
}

export async function pinTask(base: string, id: string, script: Record<string, unknown>): Promise<void> {
  await control(base, 'POST', `tasks/${encodeURIComponent(id)}`, script);
}

export async function simulatorHits(base: string): Promise<{ total: number; byId: Record<string, number> }> {
  return (await control(base, 'GET', 'hits')) as { total: number; byId: Record<string, number> };
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
  log(line: string): void;
}

/** Turns a run's target list so no target is always measured first (drift, thermal, noise). */
export function rotate<Item>(items: readonly Item[], by: number): Item[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
