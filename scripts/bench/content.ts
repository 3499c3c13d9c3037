/**
 * Scenario "content" (BENCHMARKS.md's content rows): result files streamed through
 * `GET /tasks/{id}/content`, against nginx `proxy_pass` of the same file from the same
 * origin and against that origin itself. The origin is the simulators' public "CDN"
 * (synthetic files of any size, with ranges) in its own process; the task is pinned at a
 * provider of the registry with the CDN link as its result URL.
 *
 * - throughput: one download at a time of a 50 MB file, flat out, MB/s;
 * - memory: the gateway's RSS while 20 clients each stream a 200 MB file at full speed,
 *   against its RSS at rest just before;
 * - ranges: p99 of `Range: bytes=0-1023` answers at a fixed rate, gateway vs the origin.
 */
import { Pool } from 'undici';
import { runLoad, type LoadResult } from './load.js';
import { ensureNginx, startNginx } from './nginx.js';
import { cpuTimeMs, memoryMb, sampleRss, sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import {
  pinTask,
  qualifiedId,
  rotate,
  startGateway,
  startReference,
  startSimulators,
  type BenchSettings,
  type Gateway,
  type Simulators,
} from './stack.js';
import { formatSpread, round, spread, type Spread } from './stats.js';

type TargetKey = 'direct' | 'nginx' | 'gateway';

const MB = 1024 * 1024;
const PROBE_ASSET = 'synthetic-1k.bin';
const RANGE = 'bytes=0-1023';
const RANGE_CONNECTIONS = 4;
const THROUGHPUT_TARGET = 0.9;
const RSS_GROWTH_TARGET_MB = 30;
const ADDED_P99_TARGET_MS = 5;

interface ContentSizes {
  throughputMb: number;
  memoryMb: number;
  memoryClients: number;
  memoryRuns: number;
  rangeRate: number;
}

export interface MemoryRun {
  idleRssMb: number;
  peakRssMb: number;
  growthMb: number;
  seconds: number;
  completed: number;
  failures: number;
}

export interface ContentResult {
  provider: string;
  sizes: ContentSizes;
  nginx: { version: string } | { skipped: string };
  throughputMbps: Partial<Record<TargetKey, Spread>>;
  /** CPU ms of the target's process(es) per GB streamed. */
  cpuMsPerGb: Partial<Record<TargetKey, Spread>>;
  ratioToNginx: Spread | undefined;
  ratioToDirect: Spread;
  rangeP50Ms: Partial<Record<TargetKey, Spread>>;
  rangeP99Ms: Partial<Record<TargetKey, Spread>>;
  addedRangeP99Ms: Spread;
  memory: MemoryRun[];
  perRun: Array<Partial<Record<TargetKey, { mbps: number; cpuMsPerGb: number; range: LoadResult }>>>;
}

interface Target {
  key: TargetKey;
  url: (asset: string) => string;
  pool: Pool;
  cpuMs: () => number;
}

/** Downloads `url` whole, as fast as the client can read; its size in bytes. */
async function download(pool: Pool, url: string): Promise<number> {
  const target = new URL(url);
  const response = await pool.request({ path: `${target.pathname}${target.search}`, method: 'GET' });
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Buffer).length;
  if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`);
  return bytes;
}

/** Downloads `url` one at a time for `seconds` (at least twice): MB/s and CPU ms per GB of the target. */
async function throughput(target: Target, url: string, expectedBytes: number, seconds: number): Promise<{ mbps: number; cpuMsPerGb: number }> {
  const cpuBefore = target.cpuMs();
  const started = performance.now();
  let bytes = 0;
  let downloads = 0;
  while (downloads < 2 || performance.now() - started < seconds * 1000) {
    const got = await download(target.pool, url);
    if (got !== expectedBytes) throw new Error(`${target.key}: ${got} bytes instead of ${expectedBytes}`);
    bytes += got;
    downloads++;
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  return { mbps: bytes / MB / elapsedSeconds, cpuMsPerGb: ((target.cpuMs() - cpuBefore) * 1024 * MB) / bytes };
}

/**
 * Pins a succeeded task whose result file is `link` and returns its qualified id: at the
 * first provider (and id) whose Task names the link itself as its `url` (some variants
 * dress a URL up, e.g. make it relative; those ids are passed over).
 */
async function pinContentTask(simulators: Simulators, gateway: Gateway, link: string, name: string): Promise<string> {
  const pool = new Pool(gateway.url);
  try {
    for (const provider of simulators.providers) {
      for (let attempt = 0; attempt < 8; attempt++) {
        const id = `content-${name}-${attempt}`;
        await pinTask(provider, id, { timeline: [{ atMs: 0, status: 'succeeded' }], resultUrl: link });
        const response = await pool.request({ path: `/tasks/${qualifiedId(provider, id)}`, method: 'GET' });
        const task = (await response.body.json()) as { url?: unknown };
        if (response.statusCode === 200 && task.url === link) return qualifiedId(provider, id);
      }
    }
  } finally {
    await pool.close();
  }
  throw new Error(`no provider's simulator hands out ${link} as a result URL`);
}

async function measureMemory(settings: BenchSettings, simulators: Simulators, configFile: Record<string, unknown>, link: string, sizes: ContentSizes): Promise<MemoryRun> {
  const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags });
  const pool = new Pool(gateway.url, { connections: sizes.memoryClients + 1 });
  let sampler: { stop(): number } | undefined;
  try {
    const path = `/tasks/${await pinContentTask(simulators, gateway, link, 'memory')}/content`;
    // At rest, with the route and the origin's pool warmed by one small range.
    const warm = await pool.request({ path, method: 'GET', headers: { range: RANGE } });
    await warm.body.dump();
    await sleep(500);
    const idleRssMb = memoryMb(gateway.pid).rss;
    sampler = sampleRss(gateway.pid);
    const started = performance.now();
    const outcomes = await Promise.allSettled(Array.from({ length: sizes.memoryClients }, () => download(pool, `${gateway.url}${path}`)));
    const seconds = (performance.now() - started) / 1000;
    const peakRssMb = Math.max(idleRssMb, sampler.stop());
    const completed = outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value === sizes.memoryMb * MB).length;
    const run = { idleRssMb, peakRssMb, growthMb: peakRssMb - idleRssMb, seconds, completed, failures: sizes.memoryClients - completed };
    settings.log(
      `  content memory: ${sizes.memoryClients} × ${sizes.memoryMb} MB in ${seconds.toFixed(1)} s (${completed} complete); RSS at rest ${idleRssMb.toFixed(0)} MB, peak ${peakRssMb.toFixed(0)} MB, growth ${run.growthMb.toFixed(1)} MB`,
    );
    return run;
  } finally {
    sampler?.stop();
    await pool.destroy();
    await gateway.stop();
  }
}

async function runContent(settings: BenchSettings): Promise<ContentResult> {
  const sizes: ContentSizes = settings.quick
    ? { throughputMb: 50, memoryMb: 50, memoryClients: 20, memoryRuns: 1, rangeRate: 100 }
    : { throughputMb: 50, memoryMb: 200, memoryClients: 20, memoryRuns: 3, rangeRate: 200 };
  const throughputAsset = `synthetic-${sizes.throughputMb}m.bin`;
  const memoryAsset = `synthetic-${sizes.memoryMb}m.bin`;
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const pools: Pool[] = [];
  try {
    const cdn = await startReference('cdn', 'cdn-server.ts', ['--asset', throughputAsset, '--asset', memoryAsset, '--asset', PROBE_ASSET]);
    stops.unshift(cdn.stop);
    const links = cdn.line['links'] as Record<string, string>;
    const cdnHost = new URL(cdn.url).host;
    // The origin is on loopback: the address guard lets it through only when it is allowed.
    // One load generator stands for many clients: the per-client stream cap would hold it back.
    const configFile = { content: { allowHosts: [cdnHost], maxStreamsPerClient: 10_000 } };
    const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    const taskId = await pinContentTask(simulators, gateway, links[throughputAsset]!, 'throughput');
    const provider = taskId.slice(0, taskId.indexOf(':'));
    const pathAndQuery = (link: string) => {
      const url = new URL(link);
      return `${url.pathname}${url.search}`;
    };
    const poolFor = (origin: string) => {
      const pool = new Pool(origin, { connections: RANGE_CONNECTIONS + 1 });
      pools.push(pool);
      return pool;
    };
    const targets: Target[] = [
      { key: 'direct', url: (asset) => links[asset]!, pool: poolFor(cdn.url), cpuMs: () => cpuTimeMs(cdn.pid) },
      { key: 'gateway', url: () => `${gateway.url}/tasks/${taskId}/content`, pool: poolFor(gateway.url), cpuMs: () => gateway.cpuMs() },
    ];
    const found = ensureNginx(settings.log);
    let nginxInfo: ContentResult['nginx'];
    if ('skip' in found) {
      settings.log(`  nginx skipped: ${found.skip}`);
      nginxInfo = { skipped: found.skip };
    } else {
      const nginx = await startNginx(found.binary, [{ prefix: '/files/', upstream: cdn.url, upstreamPath: '/', streamed: true }], `/files${pathAndQuery(links[PROBE_ASSET]!)}`);
      stops.unshift(nginx.stop);
      targets.splice(1, 0, { key: 'nginx', url: (asset) => `${nginx.url}/files${pathAndQuery(links[asset]!)}`, pool: poolFor(nginx.url), cpuMs: () => nginx.cpuMs() });
      nginxInfo = { version: found.version };
    }

    const perRun: ContentResult['perRun'] = [];
    for (let run = 0; run < settings.runs; run++) {
      const results: ContentResult['perRun'][number] = {};
      for (const target of rotate(targets, run)) {
        const url = target.url(throughputAsset);
        await download(target.pool, url);
        const flat = await throughput(target, url, sizes.throughputMb * MB, settings.durationSeconds);
        const range = await runLoad({
          url: target.url(throughputAsset),
          connections: RANGE_CONNECTIONS,
          durationSeconds: Math.max(2, Math.round(settings.durationSeconds / 2)),
          overallRate: sizes.rangeRate,
          headers: { range: RANGE },
        });
        results[target.key] = { ...flat, range };
        settings.log(
          `  content run ${run + 1}/${settings.runs} ${target.key}: ${flat.mbps.toFixed(0)} MB/s (${flat.cpuMsPerGb.toFixed(0)} CPU ms/GB); ${RANGE} at ${sizes.rangeRate}/s p50 ${range.p50Ms.toFixed(2)} p99 ${range.p99Ms.toFixed(2)} ms, non-2xx ${range.non2xx}, errors ${range.errors}`,
        );
      }
      perRun.push(results);
    }
    const memory: MemoryRun[] = [];
    for (let run = 0; run < sizes.memoryRuns; run++) memory.push(await measureMemory(settings, simulators, configFile, links[memoryAsset]!, sizes));

    const keys = targets.map((target) => target.key);
    const per = (read: (run: NonNullable<ContentResult['perRun'][number][TargetKey]>) => number) =>
      Object.fromEntries(keys.map((key) => [key, spread(perRun.map((results) => read(results[key]!)))])) as Partial<Record<TargetKey, Spread>>;
    return {
      provider,
      sizes,
      nginx: nginxInfo,
      throughputMbps: per((run) => run.mbps),
      cpuMsPerGb: per((run) => run.cpuMsPerGb),
      ratioToNginx: keys.includes('nginx') ? spread(perRun.map((results) => results.gateway!.mbps / results.nginx!.mbps)) : undefined,
      ratioToDirect: spread(perRun.map((results) => results.gateway!.mbps / results.direct!.mbps)),
      rangeP50Ms: per((run) => run.range.p50Ms),
      rangeP99Ms: per((run) => run.range.p99Ms),
      addedRangeP99Ms: spread(perRun.map((results) => results.gateway!.range.p99Ms - results.direct!.range.p99Ms)),
      memory,
      perRun,
    };
  } finally {
    await Promise.all(pools.map((pool) => pool.destroy()));
    for (const stop of stops) await stop();
  }
}

function contentTargets(content: ContentResult): TargetRow[] {
  const growth = spread(content.memory.map((run) => run.growthMb));
  const { sizes } = content;
  return [
    content.ratioToNginx === undefined
      ? { target: `content: ${sizes.throughputMb} MB file, gateway / nginx proxy_pass, MB/s`, measured: `skipped: ${'skipped' in content.nginx ? content.nginx.skipped : ''}`, goal: `≥ ${THROUGHPUT_TARGET.toFixed(2)}×`, met: undefined }
      : {
          target: `content: a ${sizes.throughputMb} MB file through /tasks/{id}/content, gateway / nginx proxy_pass of it, MB/s`,
          measured: `${formatSpread(content.ratioToNginx, 2, '×')} (gateway ${formatSpread(content.throughputMbps.gateway!, 0, ' MB/s')}, nginx ${formatSpread(content.throughputMbps.nginx!, 0, ' MB/s')})`,
          goal: `≥ ${THROUGHPUT_TARGET.toFixed(2)}×`,
          met: content.ratioToNginx.median >= THROUGHPUT_TARGET,
        },
    {
      target: `content: gateway RSS growth while ${sizes.memoryClients} clients each stream a ${sizes.memoryMb} MB file at full speed`,
      measured: `${formatSpread(growth, 1, ' MB')} (at rest ${formatSpread(spread(content.memory.map((run) => run.idleRssMb)), 0, ' MB')})`,
      goal: `≤ ${RSS_GROWTH_TARGET_MB} MB`,
      met: growth.median <= RSS_GROWTH_TARGET_MB,
    },
    {
      target: `content: \`Range: ${RANGE}\` at ${sizes.rangeRate} req/s, added p99 over the origin`,
      measured: `${formatSpread(content.addedRangeP99Ms, 2, ' ms')} (gateway p99 ${formatSpread(content.rangeP99Ms.gateway!, 2, ' ms')})`,
      goal: `≤ ${ADDED_P99_TARGET_MS} ms`,
      met: content.addedRangeP99Ms.median <= ADDED_P99_TARGET_MS,
    },
  ];
}

function contentDetails(content: ContentResult): string[] {
  const { sizes } = content;
  const names: Record<TargetKey, string> = {
    direct: 'the origin (simulators\' CDN), direct',
    nginx: `nginx proxy_pass${'version' in content.nginx ? ` (${content.nginx.version})` : ''}, \`proxy_max_temp_file_size 0\``,
    gateway: `gateway \`GET /tasks/${content.provider}:…/content\``,
  };
  const lines = [
    '### Content (result files)',
    '',
    `A succeeded task pinned at the ${content.provider} simulator whose result file is a synthetic ${sizes.throughputMb} MB file on the simulators' CDN (its own process; \`content.allowHosts\` lets the gateway reach it on loopback). Throughput: one download at a time, read as fast as the client can, for ${'≥'} 2 downloads per leg; CPU per GB is the target's own processes (nginx: master and worker). Ranges: \`Range: ${RANGE}\` at ${sizes.rangeRate} req/s over ${RANGE_CONNECTIONS} connections, the time to the whole 1 KB answer (206).`,
    '',
    '| target | MB/s | CPU ms / GB | range p50 ms | range p99 ms |',
    '|---|---|---|---|---|',
  ];
  for (const key of ['direct', 'nginx', 'gateway'] as const) {
    if (content.throughputMbps[key] === undefined) continue;
    lines.push(
      `| ${names[key]} | ${formatSpread(content.throughputMbps[key], 0)} | ${formatSpread(content.cpuMsPerGb[key]!, 0)} | ${formatSpread(content.rangeP50Ms[key]!, 2)} | ${formatSpread(content.rangeP99Ms[key]!, 2)} |`,
    );
  }
  const perRun = (read: (run: ContentResult['perRun'][number]) => number) => content.perRun.map((run) => read(run).toFixed(2)).join(', ');
  lines.push(
    '',
    `Ratios, pair by pair in each run: gateway / nginx ${content.ratioToNginx ? perRun((run) => run.gateway!.mbps / run.nginx!.mbps) : 'n/a'}; gateway / origin ${perRun((run) => run.gateway!.mbps / run.direct!.mbps)}; nginx / origin ${content.ratioToNginx ? perRun((run) => run.nginx!.mbps / run.direct!.mbps) : 'n/a'}. Added range p99 (ms): ${perRun((run) => run.gateway!.range.p99Ms - run.direct!.range.p99Ms)}.`,
    '',
    `Memory: a fresh gateway, RSS at rest after one small range request, then ${sizes.memoryClients} concurrent downloads of a ${sizes.memoryMb} MB file through it, VmRSS sampled every 100 ms.`,
    '',
    '| run | RSS at rest MB | RSS peak MB | growth MB | seconds | complete / failed |',
    '|---|---|---|---|---|---|',
    ...content.memory.map(
      (run, index) => `| ${index + 1} | ${run.idleRssMb.toFixed(0)} | ${run.peakRssMb.toFixed(0)} | ${run.growthMb.toFixed(1)} | ${run.seconds.toFixed(1)} | ${round(run.completed)} / ${run.failures} |`,
    ),
    '',
  );
  return lines;
}

export const contentScenario = defineScenario<ContentResult>({
  name: 'content',
  title: 'content (result files)',
  run: runContent,
  targets: contentTargets,
  details: contentDetails,
});
