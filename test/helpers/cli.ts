/**
 * The `taskgate` command line as a real process: the very bundle `npm run build` ships
 * (built once per test file into a temporary folder), with a clean environment, against a
 * real gateway on loopback. Also a real pseudo-terminal (util-linux `script`) for the TTY path.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/bench/processes.js';
import { bundleCli } from '../../scripts/cli-bundle.js';
import { listen } from './http.js';
import { startStack, withPollInterval, type Stack, type StackOptions } from './stack.js';

export const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

let bundled: Promise<string> | undefined;

/** The CLI bundle, built at first use; a spawn of it starts in a fraction of tsx's time. */
export function cliBundle(): Promise<string> {
  bundled ??= (async () => {
    const folder = mkdtempSync(join(tmpdir(), 'taskgate-cli-test-'));
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
    const file = join(folder, 'taskgate-cli.mjs');
    await bundleCli(file);
    return file;
  })();
  return bundled;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for `--output json`. */
  stdoutBytes: Buffer;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Called once the process runs (e.g. to interrupt it). */
  started?: (child: ReturnType<typeof spawn>) => void;
}

/** Only what the CLI needs: nothing of the test runner's environment leaks in (TASKGATE_URL…). */
export function cliEnvironment(env: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TZ: 'UTC', ...env };
}

export async function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [await cliBundle(), ...args], {
    cwd: options.cwd ?? REPOSITORY,
    env: cliEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  options.started?.(child);
  const [code] = (await once(child, 'close')) as [number | null];
  const stdoutBytes = Buffer.concat(stdout);
  return { code, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), stdoutBytes };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Fails (never skips) without util-linux `script`, naming the package to install. */
export function requireScript(): void {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('the TTY tests need util-linux `script`: apt-get install util-linux (or bsdutils on Debian)');
  }
}

/**
 * Runs the CLI on a real pseudo-terminal: stdout and stderr both go to it, so the answer
 * is the transcript a person would see (with the terminal's `\r\n` line ends).
 */
export async function runCliOnTerminal(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; transcript: string }> {
  requireScript();
  const command = [process.execPath, await cliBundle(), ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    cwd: REPOSITORY,
    env: cliEnvironment({ TERM: 'xterm-256color', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, transcript: Buffer.concat(output).toString('utf8') };
}

export interface Gateway {
  url: string;
  stack: Stack;
}

/** A gateway on a loopback port over the simulators, polling them fast so waits are short. */
export async function startGateway(t: TestContext, options: StackOptions = {}): Promise<Gateway> {
  const configure = options.configure;
  const stack = await startStack(t, {
    ...options,
    configure: (config) => withPollInterval(configure ? configure(config) : config, 50),
  });
  const url = await listen(stack.app);
  return { url, stack };
}

/** A loopback port with nothing listening on it (bound, then released): an unreachable gateway. */
export const closedPort = freePort;

/** Requests the gateway answered on one route, from its own metrics. */
export async function answeredRequests(stack: Stack, route: string): Promise<number> {
  const { values } = await stack.app.metrics.httpRequests.get();
  return values.filter((sample) => sample.labels.route === route).reduce((sum, sample) => sum + sample.value, 0);
}

/**
 * A real TCP hop in front of the gateway that resets the first `resets` connections as
 * soon as the request arrives (a restarting gateway, a balancer dropping a node) and
 * passes the rest through.
 */
export async function resettingProxy(t: TestContext, target: string, resets: number): Promise<{ url: string; resetCount: () => number }> {
  const { hostname, port } = new URL(target);
  let resetSoFar = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    if (resetSoFar < resets) {
      resetSoFar++;
      client.once('data', () => client.resetAndDestroy());
      return;
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', closeBoth);
    upstream.once('error', closeBoth);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  const address = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${address.port}`, resetCount: () => resetSoFar };
}
