/**
 * `npm run soak`: does the gateway stay up, and flat in memory, under a long run of faulty
 * traffic? Starts a simulator of every provider of the registry here (tasks pinned by any
 * id, asked for by qualified id) and the real server (src/server.ts) in a
 * child process on loopback, sends mixed requests (most of them meeting an upstream fault
 * or a hostile id) with bounded concurrency, and prints the gateway's RSS and heap before,
 * after each round and after a forced GC, then whether it still answers /healthz and
 * shuts down cleanly. Exits 1 if any answer was neither a Task nor a problem+json.
 *
 *   npm run soak -- --requests 10000 --rounds 4 --concurrency 64
 *   npm run soak -- --requests 60000 --rounds 6 --cache-entries 2000   (caches full early)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { ProblemSchema } from '../schemas/problem.js';
import { TaskSchema } from '../schemas/task.js';
import { PROVIDERS } from '../src/providers/index.js';
import { simulatorCredentialValues, startSimulator, type Fault, type Simulator } from '../src/simulators/index.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Loaded into the gateway: SIGWINCH (ignored by default, and not one of close-with-grace's signals) runs a full GC, so "after GC" numbers are not luck. */
const GC_HOOK = `data:text/javascript,${encodeURIComponent('process.on("SIGWINCH", () => globalThis.gc?.())')}`;

const { values: options } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1000' },
    /** Caps the task caches (TASKGATE_CONFIG) so a shorter run reaches their steady state. */
    'cache-entries': { type: 'string' },
  },
});
const TOTAL = Number(options.requests);
const ROUNDS = Math.max(1, Number(options.rounds));
const CONCURRENCY = Math.max(1, Number(options.concurrency));
const WARMUP = Math.max(0, Number(options.warmup));

type Kind = Fault | 'ok' | 'hot' | 'running' | 'wait' | 'missing' | 'weird' | 'bad-id';

/** What the traffic looks like, per 100 requests. */
const MIX: Array<[number, Kind]> = [
  [11, 'ok'],
  [8, 'hot'],
  [8, 'running'],
  [2, 'wait'],
  [8, 'missing'],
  [4, 'weird'],
  [8, 'bad-id'],
  [8, { kind: 'status', status: 500 }],
  [5, { kind: 'status', status: 503, times: 1 }],
  [4, { kind: 'status', status: 401 }],
  [6, { kind: 'reset' }],
  [6, { kind: 'malformed' }],
  [3, { kind: 'html', status: 200 }],
  [3, { kind: 'html', status: 502 }],
  [4, { kind: 'rate_limit', retryAfter: 20 }],
  [3, { kind: 'rate_limit' }],
  [3, { kind: 'huge', bytes: 1200 * 1024 }],
  [2, { kind: 'latency', ms: 200 }],
  [2, { kind: 'hang' }],
  [2, { kind: 'slow_drip', ms: 2000 }],
];
if (MIX.reduce((sum, [weight]) => sum + weight, 0) !== 100) throw new Error('the MIX weights must add up to 100');
const FIRST_PROVIDER = PROVIDERS[0].name;
const BAD_IDS = ['..%2F..%2Fetc%2Fpasswd', 'a%00b', 'x'.repeat(250), '%E4%BB%BB%E5%8A%A1', `${FIRST_PROVIDER}:`, `${FIRST_PROVIDER}:..`, 'acme:1', 'task%0D%0Ax'];

function kindFor(index: number): Kind {
  let slot = (index * 37) % 100;
  for (const [weight, kind] of MIX) {
    if (slot < weight) return kind;
    slot -= weight;
  }
  return 'ok';
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function startGateway(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--import', GC_HOOK, 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    // Keep only the start: a long run logs a line per request.
    if (stdout.length < 64 * 1024) stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface MemorySample {
  label: string;
  rssMb: number;
  heapUsedMb: number;
}

async function metricsText(pool: Pool): Promise<string> {
  const response = await pool.request({ path: '/metrics', method: 'GET' });
  return response.body.text();
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

async function sample(pool: Pool, label: string, pid: number, collect: boolean): Promise<MemorySample> {
  if (collect) {
    // Twice, with a pause: the first pass queues finalizers that the second one frees.
    process.kill(pid, 'SIGWINCH');
    await sleep(300);
    process.kill(pid, 'SIGWINCH');
    await sleep(700);
  }
  const text = await metricsText(pool);
  return {
    label,
    rssMb: metric(text, 'taskgate_process_resident_memory_bytes') / 2 ** 20,
    heapUsedMb: metric(text, 'taskgate_nodejs_heap_size_used_bytes') / 2 ** 20,
  };
}

async function main(): Promise<void> {
  const simulators: Simulator[] = await Promise.all(
    PROVIDERS.map((provider) => startSimulator({ provider: provider.name, credentials: simulatorCredentialValues(provider.name, 'soak') })),
  );
  const providerEnv: Record<string, string> = Object.fromEntries(simulators.flatMap((simulator) => Object.entries(simulator.env)));
  const hotSimulator = simulators[0]!;
  const port = await freePort();
  let configDirectory: string | undefined;
  const fileSettings: Record<string, string> = {};
  if (options['cache-entries'] !== undefined) {
    const entries = Number(options['cache-entries']);
    configDirectory = mkdtempSync(join(tmpdir(), 'taskgate-soak-'));
    const configPath = join(configDirectory, 'config.json');
    writeFileSync(configPath, JSON.stringify({ cache: { terminalMaxEntries: entries, routeMemoMaxEntries: entries } }));
    fileSettings.TASKGATE_CONFIG = configPath;
  }
  const gateway = startGateway({
    ...fileSettings,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    ...providerEnv,
    UPSTREAM_TIMEOUT_MS: '500',
    // One client from one IP: the gateway's own limit would answer 429 to almost all of it.
    TASKGATE_RATE_LIMIT: '0',
    CIRCUIT_FAILURE_THRESHOLD: '20',
    CIRCUIT_OPEN_MS: '500',
  });
  const pid = gateway.child.pid!;
  const origin = `http://127.0.0.1:${port}`;
  const pool = new Pool(origin, { connections: CONCURRENCY + 4 });
  const cleanup = async () => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    await pool.close().catch(() => undefined);
    await Promise.all(simulators.map((simulator) => simulator.close()));
    if (configDirectory !== undefined) rmSync(configDirectory, { recursive: true, force: true });
  };

  try {
    const bootDeadline = Date.now() + 20_000;
    for (;;) {
      try {
        const response = await pool.request({ path: '/healthz', method: 'GET' });
        await response.body.dump();
        if (response.statusCode === 200) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > bootDeadline || gateway.child.exitCode !== null) throw new Error(`gateway did not start: ${gateway.stderr()}`);
      await sleep(100);
    }

    const outcomes = new Map<string, number>();
    let bad = 0;
    let sent = 0;
    const send = async (index: number): Promise<void> => {
      const kind = kindFor(index);
      const simulator = simulators[index % simulators.length]!;
      let path: string;
      if (kind === 'bad-id') {
        path = `/tasks/${BAD_IDS[index % BAD_IDS.length]}`;
      } else if (kind === 'hot') {
        // A handful of ids everybody polls: single flight and the caches at work.
        path = `/tasks/${hotSimulator.provider}:task_hot${index % 5}`;
        hotSimulator.setTask(`task_hot${index % 5}`, { timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
      } else {
        const id = `soak_${index}`;
        if (kind === 'ok') simulator.setTask(id, { timeline: [{ atMs: 0, status: 'succeeded' }] });
        else if (kind === 'running' || kind === 'wait') simulator.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 50 }] });
        else if (kind === 'missing') simulator.setTask(id, { missing: true });
        else if (kind === 'weird') simulator.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', providerStatus: `weird_${index % 97}` }] });
        else {
          simulator.setTask(id, { timeline: [{ atMs: 0, status: 'succeeded' }] });
          simulator.injectFault(id, { times: 3, ...kind });
        }
        path = `/tasks/${simulator.provider}:${id}${kind === 'wait' ? '?wait=1' : ''}`;
      }
      let key: string;
      try {
        const response = await pool.request({ path, method: 'GET' });
        const body = await response.body.text();
        const type = String(response.headers['content-type'] ?? '');
        if (response.statusCode === 200 && type.startsWith('application/json') && TaskSchema.safeParse(JSON.parse(body)).success) {
          key = '200 task';
        } else if (type.startsWith('application/problem+json')) {
          const problem = ProblemSchema.safeParse(JSON.parse(body));
          key = problem.success && problem.data.status === response.statusCode ? `${response.statusCode} ${problem.data.code}` : 'BAD problem';
        } else {
          key = `BAD ${response.statusCode} ${type}`;
        }
      } catch (error) {
        key = `BAD ${(error as { code?: string }).code ?? (error as Error).message}`;
      }
      if (key.startsWith('BAD')) bad++;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    };
    const run = async (count: number): Promise<number> => {
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < count) {
            next++;
            await send(sent++);
          }
        }),
      );
      return performance.now() - started;
    };

    const samples: MemorySample[] = [];
    await run(WARMUP);
    outcomes.clear();
    samples.push(await sample(pool, `after ${WARMUP} warm-up requests, GC`, pid, true));
    const perRound = Math.ceil(TOTAL / ROUNDS);
    let done = 0;
    let elapsedMs = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const count = Math.min(perRound, TOTAL - done);
      elapsedMs += await run(count);
      done += count;
      samples.push(await sample(pool, `after ${done} requests`, pid, false));
      samples.push(await sample(pool, `after ${done} requests, GC`, pid, true));
    }
    await sleep(2000);
    samples.push(await sample(pool, 'idle 2 s later, GC', pid, true));

    const health = await pool.request({ path: '/healthz', method: 'GET' });
    const healthBody = await health.body.text();
    const finalMetrics = await metricsText(pool);
    const loops = metric(finalMetrics, 'taskgate_active_poll_loops');

    const capped = options['cache-entries'] === undefined ? '' : `, caches capped at ${options['cache-entries']} entries`;
    console.log(`\n${TOTAL} requests (+${WARMUP} warm-up), concurrency ${CONCURRENCY}${capped}, ${(elapsedMs / 1000).toFixed(1)} s, ${Math.round(TOTAL / (elapsedMs / 1000))} req/s`);
    console.log('\nanswers:');
    for (const [key, count] of [...outcomes.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${String(count).padStart(6)}  ${key}`);
    console.log('\ngateway memory:');
    for (const entry of samples) console.log(`  ${entry.label.padEnd(34)} RSS ${entry.rssMb.toFixed(1).padStart(6)} MB   heap used ${entry.heapUsedMb.toFixed(1).padStart(6)} MB`);
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const firstRound = samples[2]!;
    console.log(
      `\n  growth after GC: RSS ${(last.rssMb - first.rssMb).toFixed(1)} MB over the run, ${(last.rssMb - firstRound.rssMb).toFixed(1)} MB after round 1; heap ${(last.heapUsedMb - first.heapUsedMb).toFixed(1)} MB`,
    );
    console.log(`\n/healthz: ${health.statusCode} ${healthBody}; active poll loops: ${loops}; answers that were neither a Task nor a Problem: ${bad}`);

    gateway.child.kill('SIGTERM');
    const exitCode = await Promise.race([gateway.exited, sleep(15_000).then(() => 'still running')]);
    console.log(`SIGTERM → exit ${exitCode}`);
    console.log(
      JSON.stringify({
        requests: TOTAL,
        seconds: Number((elapsedMs / 1000).toFixed(1)),
        rssMb: samples.map((entry) => Number(entry.rssMb.toFixed(1))),
        heapUsedMb: samples.map((entry) => Number(entry.heapUsedMb.toFixed(1))),
        healthz: health.statusCode,
        bad,
        exitCode,
      }),
    );
    process.exitCode = bad === 0 && health.statusCode === 200 && exitCode === 0 ? 0 : 1;
  } catch (error) {
    const exit = gateway.child.exitCode ?? gateway.child.signalCode;
    if (exit !== null) console.error(`the gateway exited (${exit}); its stderr:\n${gateway.stderr().slice(-4000)}\nits last log lines:\n${gateway.stdout().slice(-4000)}`);
    throw error;
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
