/**
 * Scenario "cached terminal task": 32 connections asking the gateway for a task it holds
 * in its terminal cache, against a bare node:http server and a minimal fastify route
 * answering the very same bytes and headers, each in its own process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runLoad, type LoadResult } from './load.js';
import {
  rotate,
  startGateway,
  startReference,
  startSimulators,
  TERMINAL_TASK_ID,
  type BenchSettings,
  type RunningProcess,
} from './stack.js';
import { spread, type Spread } from './stats.js';

export const CACHED_CONNECTIONS = 32;
const COPIED_HEADERS = ['content-type', 'cache-control', 'etag', 'x-request-id'];

export interface CachedResult {
  bodyBytes: number;
  rps: Record<'gateway' | 'bare' | 'fastify', Spread>;
  p99Ms: Record<'gateway' | 'bare' | 'fastify', Spread>;
  gatewayCpuUsPerRequest: Spread;
  ratioToBare: Spread;
  ratioToFastify: Spread;
  perRun: Array<Record<string, LoadResult>>;
}

export async function runCached(settings: BenchSettings): Promise<CachedResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-bench-cached-'));
  try {
    const gateway = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    const path = `/tasks/${TERMINAL_TASK_ID}`;
    // The first call fills the terminal cache; the references answer with what it sent.
    const answer = await request(`${gateway.url}${path}`);
    const body = await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`gateway answered ${answer.statusCode} for the cached task: ${body}`);
    const headers: Record<string, string> = {};
    for (const name of COPIED_HEADERS) {
      const value = answer.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const responseFile = join(directory, 'response.json');
    writeFileSync(responseFile, JSON.stringify({ body, headers }));
    const bare = await startReference('bare node:http', 'bare-server.ts', ['--response-file', responseFile]);
    stops.unshift(bare.stop);
    const fastify = await startReference('minimal fastify', 'fastify-server.ts', ['--response-file', responseFile]);
    stops.unshift(fastify.stop);

    const targets: Array<{ key: 'gateway' | 'bare' | 'fastify'; server: RunningProcess }> = [
      { key: 'gateway', server: gateway },
      { key: 'bare', server: bare },
      { key: 'fastify', server: fastify },
    ];
    const perRun: Array<Record<string, LoadResult>> = [];
    for (let run = 0; run < settings.runs; run++) {
      const results: Record<string, LoadResult> = {};
      for (const { key, server } of rotate(targets, run)) {
        const url = `${server.url}${path}`;
        await runLoad({ url, connections: CACHED_CONNECTIONS, durationSeconds: settings.warmupSeconds });
        results[key] = await runLoad({
          url,
          connections: CACHED_CONNECTIONS,
          durationSeconds: settings.durationSeconds,
          cpuOf: [{ pid: server.pid, withChildren: false }],
        });
        const result = results[key]!;
        settings.log(`  cached run ${run + 1}/${settings.runs} ${key}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}, errors ${result.errors}`);
      }
      perRun.push(results);
    }
    const pick = (key: string, read: (result: LoadResult) => number) => spread(perRun.map((results) => read(results[key]!)));
    return {
      bodyBytes: Buffer.byteLength(body),
      rps: { gateway: pick('gateway', (r) => r.rps), bare: pick('bare', (r) => r.rps), fastify: pick('fastify', (r) => r.rps) },
      p99Ms: { gateway: pick('gateway', (r) => r.p99Ms), bare: pick('bare', (r) => r.p99Ms), fastify: pick('fastify', (r) => r.p99Ms) },
      gatewayCpuUsPerRequest: pick('gateway', (r) => (r.cpuMs[0]! * 1000) / Math.max(1, r.ok + r.non2xx)),
      ratioToBare: spread(perRun.map((results) => results['gateway']!.rps / results['bare']!.rps)),
      ratioToFastify: spread(perRun.map((results) => results['gateway']!.rps / results['fastify']!.rps)),
      perRun,
    };
  } finally {
    for (const stop of stops) await stop();
    rmSync(directory, { recursive: true, force: true });
  }
}
