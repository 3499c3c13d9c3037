/**
 * Scenario "cached terminal task": 32 connections asking the gateway for a task it holds
 * in its terminal cache, against a minimal fastify route (the framework's own limit, the
 * target) and a bare node:http server answering the very same bytes and headers, each in
 * its own process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runLoad, type LoadResult } from './load.js';
import { defineScenario } from './scenario.js';
import { pinTerminalTask, rotate, startGateway, startReference, startSimulators, type BenchSettings, type RunningProcess } from './stack.js';
import { formatSpread, spread, type Spread } from './stats.js';

export const CACHED_CONNECTIONS = 32;
const COPIED_HEADERS = ['content-type', 'cache-control', 'etag', 'x-request-id'];
const TARGET_RATIO = 0.8;

type TargetKey = 'gateway' | 'bare' | 'fastify';

export interface CachedResult {
  path: string;
  bodyBytes: number;
  rps: Record<TargetKey, Spread>;
  p99Ms: Record<TargetKey, Spread>;
  cpuUsPerRequest: Record<TargetKey, Spread>;
  ratioToBare: Spread;
  ratioToFastify: Spread;
  perRun: Array<Record<string, LoadResult>>;
}

async function runCached(settings: BenchSettings): Promise<CachedResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-bench-cached-'));
  try {
    const gateway = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    const path = `/tasks/${await pinTerminalTask(simulators)}`;
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
    const fastify = await startReference('minimal fastify', 'fastify-server.ts', ['--response-file', responseFile], settings.gatewayNodeFlags);
    stops.unshift(fastify.stop);

    const targets: Array<{ key: TargetKey; server: RunningProcess }> = [
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
        const result = results[key];
        settings.log(`  cached run ${run + 1}/${settings.runs} ${key}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}, errors ${result.errors}`);
      }
      perRun.push(results);
    }
    const pick = (read: (result: LoadResult) => number) =>
      Object.fromEntries(targets.map(({ key }) => [key, spread(perRun.map((results) => read(results[key]!)))])) as Record<TargetKey, Spread>;
    return {
      path,
      bodyBytes: Buffer.byteLength(body),
      rps: pick((result) => result.rps),
      p99Ms: pick((result) => result.p99Ms),
      cpuUsPerRequest: pick((result) => (result.cpuMs[0]! * 1000) / Math.max(1, result.ok + result.non2xx)),
      ratioToBare: spread(perRun.map((results) => results['gateway']!.rps / results['bare']!.rps)),
      ratioToFastify: spread(perRun.map((results) => results['gateway']!.rps / results['fastify']!.rps)),
      perRun,
    };
  } finally {
    for (const stop of stops) await stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

export const cachedScenario = defineScenario<CachedResult>({
  name: 'cached',
  title: 'cached terminal task',
  run: runCached,
  targets: (cached) => [
    {
      target: `cached terminal task, ${CACHED_CONNECTIONS} connections: gateway / minimal fastify route, req/s`,
      measured: `${formatSpread(cached.ratioToFastify, 2, '×')} (gateway ${formatSpread(cached.rps.gateway)} req/s; ${formatSpread(cached.ratioToBare, 2, '×')} bare node:http)`,
      goal: `≥ ${TARGET_RATIO.toFixed(2)}×`,
      met: cached.ratioToFastify.median >= TARGET_RATIO,
    },
  ],
  details: (cached) => [
    '### Cached terminal task',
    '',
    `\`GET ${cached.path}\` (a ${cached.bodyBytes}-byte Task held in the terminal cache), ${CACHED_CONNECTIONS} connections, flat out. The references answer the same body with the same headers. CPU per request is user+sys time of the server's process over the leg divided by its answers.`,
    '',
    '| target | req/s | p99 ms | CPU µs / request |',
    '|---|---|---|---|',
    `| gateway | ${formatSpread(cached.rps.gateway)} | ${formatSpread(cached.p99Ms.gateway, 2)} | ${formatSpread(cached.cpuUsPerRequest.gateway, 1)} |`,
    `| minimal fastify (scripts/bench/fastify-server.ts) | ${formatSpread(cached.rps.fastify)} | ${formatSpread(cached.p99Ms.fastify, 2)} | ${formatSpread(cached.cpuUsPerRequest.fastify, 1)} |`,
    `| bare node:http (scripts/bench/bare-server.ts) | ${formatSpread(cached.rps.bare)} | ${formatSpread(cached.p99Ms.bare, 2)} | ${formatSpread(cached.cpuUsPerRequest.bare, 1)} |`,
    '',
    `Ratios, pair by pair in each run: gateway / fastify ${cached.perRun.map((run) => (run['gateway']!.rps / run['fastify']!.rps).toFixed(2)).join(', ')}; gateway / bare ${cached.perRun.map((run) => (run['gateway']!.rps / run['bare']!.rps).toFixed(2)).join(', ')}.`,
    '',
  ],
});
