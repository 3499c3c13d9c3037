/**
 * Child processes for the benchmark: every server runs in its own process so the load
 * generator's event loop (this process) distorts none of them. Also the /proc readings
 * (CPU time, RSS) the tables report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { once } from 'node:events';

const running = new Set<ChildProcess>();

/** Kills every child this process started (by its pid), e.g. on Ctrl-C or a crash. */
export function killAll(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface Spawned {
  name: string;
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the next `count` JSON lines printed on stdout. */
  jsonLines(count: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
}

/**
 * Starts a process with both pipes always drained (a full pipe would block a server that
 * logs synchronously) and its stdout split into lines.
 */
export function spawnProcess(options: SpawnOptions): Spawned {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let errorText = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    errorText = (errorText + chunk).slice(-4000);
  });
  const jsonQueue: Record<string, unknown>[] = [];
  let onLine: (() => void) | undefined;
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (!line.trimStart().startsWith('{')) continue;
      try {
        jsonQueue.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        continue;
      }
      onLine?.();
    }
    if (buffered.length > 65_536) buffered = '';
  });
  child.once('exit', () => {
    running.delete(child);
    onLine?.();
  });
  const stderr = () => errorText;
  return {
    name: options.name,
    child,
    stderr,
    jsonLines: async (count, timeoutMs = 30_000) => {
      const giveUp = Date.now() + timeoutMs;
      while (jsonQueue.length < count) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${options.name} exited before it printed its address: ${stderr().trim() || '(no stderr)'}`);
        }
        const left = giveUp - Date.now();
        if (left <= 0) throw new Error(`${options.name} printed no address within ${timeoutMs} ms: ${stderr().trim()}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 500));
          onLine = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        onLine = undefined;
      }
      return jsonQueue.splice(0, count);
    },
  };
}

/** A port that was free a moment ago (for the gateway, which is told its port by env). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One GET with node:http (no pool): status code, or 0 when the connection fails. */
export function getStatus(url: string, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const call = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    call.once('timeout', () => call.destroy());
    call.once('error', () => resolve(0));
    call.end();
  });
}

/** Polls `url` every `everyMs` until it answers 200; the time of that answer (performance.now()). */
export async function waitFor200(url: string, child: ChildProcess, timeoutMs = 30_000, everyMs = 5): Promise<number> {
  const giveUp = performance.now() + timeoutMs;
  while (performance.now() < giveUp) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${url} answered`);
    if ((await getStatus(url)) === 200) return performance.now();
    await sleep(everyMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  // USER_HZ is 100 on every Linux we run on; getconf would need a shell for one number.
  clockTicks ??= 100;
  return clockTicks;
}

function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/** user+sys CPU milliseconds of `pid` (and, with `withChildren`, of its live children, e.g. nginx workers). */
export function cpuTimeMs(pid: number, withChildren = false): number {
  const pids = withChildren ? [pid, ...childPids(pid)] : [pid];
  let ticks = 0;
  for (const one of pids) {
    try {
      const stat = readFileSync(`/proc/${one}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of proc(5): utime and stime; `fields` starts at field 3.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone: its time is lost either way.
    }
  }
  return (ticks * 1000) / ticksPerSecond();
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** VmRSS of a process sampled every `everyMs`; `stop()` ends it (again: no-op) and gives the peak in MB, a last reading included. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      peak = Math.max(peak, memoryMb(pid).rss);
    } catch {
      // The process is gone; the run fails on its own.
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
