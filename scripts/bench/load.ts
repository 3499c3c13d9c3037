/**
 * The load generator: autocannon, used programmatically in this (the bench) process.
 * Latencies are taken from autocannon's per-response event as floats, because its own
 * histogram keeps whole milliseconds and the pass-through target is a few ms.
 */
import autocannon from 'autocannon';
import { cpuTimeMs } from './processes.js';
import { percentile } from './stats.js';

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
  /** A new path for every request (the pass-through scenario's unique ids). */
  nextPath?: () => string;
  /** Requests per second over all connections; unset = as fast as the server answers. */
  overallRate?: number;
  /** pids whose user+sys CPU time is read before and after (children included when `true`). */
  cpuOf?: Array<{ pid: number; withChildren: boolean }>;
}

export interface LoadResult {
  /** 2xx answers per second. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU milliseconds spent per `cpuOf` entry during the run. */
  cpuMs: number[];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  const nextPath = options.nextPath;
  const cpuBefore = (options.cpuOf ?? []).map(({ pid, withChildren }) => cpuTimeMs(pid, withChildren));
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    pipelining: 1,
    timeout: 10,
    headers: options.headers,
    ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
    ...(nextPath === undefined
      ? {}
      : {
          requests: [
            {
              method: 'GET',
              setupRequest: (request: autocannon.Request) => ({ ...request, path: nextPath() }),
            },
          ],
        }),
  });
  (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      latencies.push(responseTime);
    } else {
      non2xx++;
    }
  });
  const result = await instance;
  const cpuAfter = (options.cpuOf ?? []).map(({ pid, withChildren }) => cpuTimeMs(pid, withChildren));
  const durationSeconds = result.duration;
  return {
    rps: ok / durationSeconds,
    ok,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    cpuMs: cpuAfter.map((after, index) => after - cpuBefore[index]!),
  };
}
