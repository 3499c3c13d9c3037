/**
 * Helpers shared by the hardening suite: problem+json assertions that work for `inject`
 * and undici answers alike, raw-socket requests for input that no well-behaved client
 * library would send, and the real server process for signal and boot tests.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as undiciRequest } from 'undici';
import { ProblemSchema } from '../../schemas/problem.js';
import { PROBLEM_CATALOG } from '../../src/errors.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AnyResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

export function header(response: AnyResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

export function isProblem(response: AnyResponse): boolean {
  return /^application\/problem\+json/.test(header(response, 'content-type') ?? '');
}

/** A problem+json answer with this status and code, in the contract's shape. */
export function assertProblem(response: AnyResponse, status: number, code: string, provider?: string) {
  assert.equal(response.statusCode, status, response.body.slice(0, 300));
  assert.ok(isProblem(response), `content-type ${header(response, 'content-type')}`);
  const problem = ProblemSchema.parse(JSON.parse(response.body));
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.equal(problem.type, `/problems/${code}`);
  assert.equal(problem.request_id, header(response, 'x-request-id'));
  if (provider !== undefined) assert.equal(problem.provider, provider);
  return problem;
}

/** Any problem+json answer whose code is in the catalog and agrees with the HTTP status. */
export function assertAnyProblem(response: AnyResponse) {
  assert.ok(isProblem(response), `${response.statusCode} with content-type ${header(response, 'content-type')}: ${response.body.slice(0, 200)}`);
  const problem = ProblemSchema.parse(JSON.parse(response.body));
  assert.ok(problem.code in PROBLEM_CATALOG, problem.code);
  assert.equal(problem.status, response.statusCode);
  return problem;
}

export interface RawAnswer {
  /** 0 when the server closed the connection without answering. */
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/** Splits raw HTTP/1.1 answer bytes into status, headers and body. */
export function parseRawAnswer(raw: string): RawAnswer {
  const split = raw.indexOf('\r\n\r\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const statusCode = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const body = split === -1 ? '' : Buffer.from(raw.slice(split + 4), 'latin1').toString('utf8');
  return { statusCode, headers, body, raw };
}

/**
 * Writes bytes to a fresh connection and reads until the server closes it (or `timeoutMs`).
 * Requests should say `Connection: close`; a server that ignores it is cut off at the timeout.
 */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 2000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      resolve(parseRawAnswer(Buffer.concat(chunks).toString('latin1')));
    };
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', finish);
    socket.on('error', () => {
      /* a reset is an answer too: `close` follows */
    });
    socket.write(bytes);
  });
}

export interface RawConnection {
  socket: net.Socket;
  /** Everything the server sent so far. */
  received: () => string;
  /** Resolves with the time (Date.now()) the connection closed, whoever closed it. */
  closed: Promise<number>;
  /** Writes unless the connection is gone (a server that cut it makes writes fail). */
  send: (bytes: string) => void;
}

/** A connection that stays under the test's control: bytes go out when it says so. */
export async function connectRaw(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {
    /* a reset is how some of these end: `close` follows */
  });
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => Buffer.concat(chunks).toString('latin1'),
    closed,
    send: (bytes) => {
      if (!socket.destroyed && socket.writable) socket.write(bytes);
    },
  };
}

/** The status of a GET on a connection of its own (closed after the answer). */
export async function statusOnFreshConnection(url: string): Promise<number> {
  const response = await undiciRequest(url, { headers: { connection: 'close' } });
  await response.body.dump();
  return response.statusCode;
}

/** A TASKGATE_CONFIG file with these settings, removed when the test ends. */
export async function configFile(t: { after(fn: () => Promise<void>): void }, settings: Record<string, unknown>): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'taskgate-config-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const path = join(folder, 'taskgate.json');
  await writeFile(path, JSON.stringify(settings));
  return path;
}

/** A port nobody listens on right now (a throwaway server picks it, then lets it go). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Where `listen(0)` hands ports out from (Linux's default when the kernel does not say). */
function ephemeralPortsFrom(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function isFreePort(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port whose next one is free too (the demo serves its browser page on PORT + 1),
 * below the range `listen(0)` hands out: the demo opens a dozen ports of that range (its
 * simulators, Redis, the replicas) before it binds PORT, and none of them may be PORT.
 */
export async function freePortPair(): Promise<number> {
  const bottom = 10_000;
  const top = Math.max(bottom + 1000, ephemeralPortsFrom() - 2);
  for (;;) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if ((await isFreePort(port)) && (await isFreePort(port + 1))) return port;
  }
}

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  /** Every stdout line so far (pino JSON). */
  stdout: () => string[];
  stderr: () => string;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  exited: Promise<number | string>;
}

/** The environment a child gateway gets: only what it needs, never the runner's TASKGATE_*. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env };
}

/** Runs `node --import tsx src/server.ts` with exactly `env` (plus PATH and HOME). */
export function runServer(env: Record<string, string>): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

export interface GatewayProcessOptions {
  /**
   * What the test does with the gateway's stdout once it has started: keep reading it
   * (default), stop reading it (a parent that no longer drains the pipe), or close it (a
   * reader that went away).
   */
  stdoutAfterStart?: 'read' | 'stop-reading' | 'close';
  timeoutMs?: number;
}

/** Starts the real server on a free loopback port and waits for its "Server listening" line. */
export async function startGatewayProcess(env: Record<string, string>, options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const port = await freePort();
  const run = runServer({ HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (!run.stdout().includes('Server listening at')) {
    if (run.child.exitCode !== null) throw new Error(`gateway exited early (${run.child.exitCode}): ${run.stderr()}`);
    if (Date.now() > deadline) {
      run.child.kill('SIGKILL');
      throw new Error(`gateway did not start: ${run.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (options.stdoutAfterStart === 'stop-reading') {
    run.child.stdout!.removeAllListeners('data');
    run.child.stdout!.pause();
  } else if (options.stdoutAfterStart === 'close') {
    run.child.stdout!.destroy();
  }
  return {
    child: run.child,
    url,
    stdout: () => run.stdout().split('\n').filter((line) => line.trim() !== ''),
    stderr: run.stderr,
    exited: run.exited,
  };
}

/** Samples `value` until `predicate` holds or `timeoutMs` passes; returns the last sample. */
export async function waitFor<T>(value: () => Promise<T> | T, predicate: (sample: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let sample = await value();
  while (!predicate(sample) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    sample = await value();
  }
  return sample;
}

/** One sample line of Prometheus text: the value of `name{labels}` (labels in any order). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

/** The promise's value, or `fallback` after `ms`; the timer never outlives the race. */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
