/**
 * A private redis-server for tests: its own process on a free loopback port, no
 * persistence, a temporary directory, and handles to stop it (SIGSTOP), resume it, kill
 * it and restart it on the same port. Never a shared or system Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { FleetRedis, type FleetRedisOptions } from '../../src/fleet/redis.js';

export interface TestRedis {
  url: string;
  port: number;
  /** SIGSTOP: the TCP connections stay open and nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** Kills it if running, then starts a fresh (empty) server on the same port. */
  restart(): Promise<void>;
  /** Kills it and removes its directory. */
  stop: () => Promise<void>;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 5000;

/** Whether `redis-server` can be started at all (asking its version, which needs no port). */
function redisServerInstalled(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The process id of the Redis answering on `port` (INFO over a raw socket), so a server
 * that another test started on a port we thought free is never taken for ours.
 */
function answeringProcess(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    const timer = setTimeout(() => finish(undefined), 200);
    let reply = '';
    function finish(processId: number | undefined): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(processId);
    }
    socket.once('error', () => finish(undefined));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const match = /process_id:(\d+)\r\n/.exec(reply);
      if (match !== null) finish(Number(match[1]));
      else if (reply.startsWith('-')) finish(undefined);
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface RedisServerOptions {
  /** More redis-server arguments, e.g. `['--maxmemory', '2mb']`. */
  args?: string[];
}

export async function startRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  if (!redisServerInstalled()) throw new Error('redis-server not found: apt-get install -y redis-server');
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';
  // If the test process dies first, the server must not outlive it.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  async function launch(): Promise<void> {
    stderr = '';
    const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', directory, '--loglevel', 'warning', ...(options.args ?? [])];
    const started = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) break;
      if ((await answeringProcess(port)) === started.pid) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    started.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${port}: ${stderr.trim() || 'no output'}`);
  }

  async function kill(): Promise<void> {
    const running = child;
    if (running === undefined) return;
    running.kill('SIGKILL');
    await exited(running);
    child = undefined;
  }

  // Another process may take the free port before redis-server binds it: try another.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt === 3) throw error;
      port = await freePort();
    }
  }
  return {
    url: `redis://${HOST}:${port}`,
    port,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      process.removeListener('exit', killOnExit);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

type Closable = { after(fn: () => Promise<void> | void): void };

/**
 * `count` FleetRedis instances on one server and prefix, as if they were replicas of one
 * fleet; each is closed when the test ends.
 */
export async function connectReplicas(
  t: Closable,
  options: Omit<FleetRedisOptions, 'onHealthChange'>,
  count: number,
): Promise<FleetRedis[]> {
  const replicas = await Promise.all(Array.from({ length: count }, () => FleetRedis.create({ commandTimeoutMs: 50, ...options })));
  t.after(() => {
    for (const replica of replicas) replica.close();
  });
  return replicas;
}

/** A plain ioredis client for a test to look at (SCAN, PTTL, PUBSUB) or poke the server with. */
export function adminClient(t: Closable, url: string): Redis {
  const admin = new Redis(url, { lazyConnect: false });
  admin.on('error', () => {});
  t.after(() => admin.disconnect());
  return admin;
}

/** Every key under `prefix` (SCAN, so it works on any database size). */
export async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Polls `check` (which may ask Redis) until it holds or `timeoutMs` passes; answers the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return check();
}
