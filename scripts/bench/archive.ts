/**
 * Scenario "archive": the result archive (docs/archive.md). One task pinned at the
 * registry's first provider, its result file a synthetic file on the simulators' CDN (its
 * own process), served by three gateways of the production entry in one run: one with
 * the archive in a folder, one with it in S3 (s3rver, its own process, on loopback), and
 * one without (the upstream content path, from the CDN).
 *
 * - copy: how fast the archive copies a file in (its size / from the first lookup to
 *   `archived_at`), per store;
 * - serving: one download at a time of the archived file through `/content`, MB/s, for the
 *   folder store, the S3 store and the upstream path, pair by pair in each run;
 * - memory: each archiving gateway's RSS while 20 clients each stream the archived large
 *   file at full speed, against its RSS at rest just before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startS3 } from '../../test/helpers/s3.js';
import { memoryMb, sampleRss, sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import { pinTask, qualifiedId, rotate, startGateway, startReference, startSimulators, type BenchSettings, type Gateway, type SimulatedProvider } from './stack.js';
import { formatSpread, spread, type Spread } from './stats.js';

const MB = 1024 * 1024;
type StoreKey = 'folder' | 's3';
type TargetKey = StoreKey | 'upstream';
const STORES: readonly StoreKey[] = ['folder', 's3'];

interface ArchiveSizes {
  serveMb: number;
  memoryMb: number;
  memoryClients: number;
}

interface MemoryRun {
  idleRssMb: number;
  peakRssMb: number;
  growthMb: number;
  seconds: number;
  completed: number;
}

export interface ArchiveResult {
  provider: string;
  sizes: ArchiveSizes;
  /** MB/s of the copy of the large file into each store. */
  copyMbps: Record<StoreKey, number>;
  serveMbps: Record<TargetKey, Spread>;
  ratioToUpstream: Record<StoreKey, Spread>;
  memory: Record<StoreKey, MemoryRun>;
}

async function download(pool: Pool, path: string): Promise<number> {
  const response = await pool.request({ path, method: 'GET' });
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Buffer).length;
  if (response.statusCode !== 200) throw new Error(`${path}: HTTP ${response.statusCode}`);
  return bytes;
}

/** Asks for the task until it is archived: the seconds from the first lookup. */
async function timeArchiving(gateway: Gateway, id: string): Promise<number> {
  const pool = new Pool(gateway.url);
  const started = performance.now();
  try {
    for (;;) {
      const response = await pool.request({ path: `/tasks/${encodeURIComponent(id)}`, method: 'GET' });
      const task = (await response.body.json()) as { archived_at?: string | null };
      if (response.statusCode !== 200) throw new Error(`GET ${id}: HTTP ${response.statusCode}`);
      if (task.archived_at !== null && task.archived_at !== undefined) return (performance.now() - started) / 1000;
      if (performance.now() - started > 300_000) throw new Error(`${id} was not archived within 5 minutes`);
      await sleep(10);
    }
  } finally {
    await pool.close();
  }
}

/**
 * Pins a succeeded task whose one output is `link` and returns its qualified id: the first
 * id whose Task (asked of the gateway without the archive) names the link alone (some
 * variants add a cover image, or dress the URL up; those ids are passed over).
 */
async function pinFileTask(provider: SimulatedProvider, plain: Gateway, link: string, name: string): Promise<string> {
  const pool = new Pool(plain.url);
  try {
    for (let attempt = 0; attempt < 16; attempt++) {
      const id = `archive-${name}-${attempt}`;
      await pinTask(provider, id, { timeline: [{ atMs: 0, status: 'succeeded' }], resultUrl: link });
      const response = await pool.request({ path: `/tasks/${encodeURIComponent(qualifiedId(provider, id))}`, method: 'GET' });
      const task = (await response.body.json()) as { url?: unknown; outputs?: unknown[] };
      if (response.statusCode === 200 && task.url === link && task.outputs?.length === 1) return qualifiedId(provider, id);
    }
  } finally {
    await pool.close();
  }
  throw new Error(`${provider.name}'s simulator hands out no task whose only result file is ${link}`);
}

async function throughput(pool: Pool, path: string, expectedBytes: number, seconds: number): Promise<number> {
  const started = performance.now();
  let bytes = 0;
  let downloads = 0;
  while (downloads < 2 || performance.now() - started < seconds * 1000) {
    const got = await download(pool, path);
    if (got !== expectedBytes) throw new Error(`${path}: ${got} bytes instead of ${expectedBytes}`);
    bytes += got;
    downloads++;
  }
  return bytes / MB / ((performance.now() - started) / 1000);
}

async function measureMemory(settings: BenchSettings, gateway: Gateway, path: string, sizes: ArchiveSizes, name: string): Promise<MemoryRun> {
  const pool = new Pool(gateway.url, { connections: sizes.memoryClients + 1 });
  try {
    const warm = await pool.request({ path, method: 'GET', headers: { range: 'bytes=0-1023' } });
    await warm.body.dump();
    await sleep(500);
    const idleRssMb = memoryMb(gateway.pid).rss;
    const sampler = sampleRss(gateway.pid);
    const started = performance.now();
    const outcomes = await Promise.allSettled(Array.from({ length: sizes.memoryClients }, () => download(pool, path)));
    const seconds = (performance.now() - started) / 1000;
    const peakRssMb = Math.max(idleRssMb, sampler.stop());
    const completed = outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value === sizes.memoryMb * MB).length;
    settings.log(`  archive memory (${name}): ${sizes.memoryClients} × ${sizes.memoryMb} MB in ${seconds.toFixed(1)} s (${completed} complete); RSS at rest ${idleRssMb.toFixed(0)} MB, peak ${peakRssMb.toFixed(0)} MB`);
    return { idleRssMb, peakRssMb, growthMb: peakRssMb - idleRssMb, seconds, completed };
  } finally {
    await pool.destroy();
  }
}

async function runArchive(settings: BenchSettings): Promise<ArchiveResult> {
  const sizes: ArchiveSizes = settings.quick ? { serveMb: 50, memoryMb: 50, memoryClients: 20 } : { serveMb: 50, memoryMb: 200, memoryClients: 20 };
  const serveAsset = `synthetic-${sizes.serveMb}m.bin`;
  const memoryAsset = `synthetic-${sizes.memoryMb}m.bin`;
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const folder = mkdtempSync(join(tmpdir(), 'taskgate-bench-archive-'));
  const pools: Pool[] = [];
  try {
    const cdn = await startReference('cdn', 'cdn-server.ts', ['--asset', serveAsset, '--asset', memoryAsset]);
    stops.unshift(cdn.stop);
    const s3 = await startS3(undefined, { quiet: true });
    stops.unshift(s3.stop);
    const links = cdn.line['links'] as Record<string, string>;
    const content = { allowHosts: [new URL(cdn.url).host] };
    const gateways: Record<TargetKey, Gateway> = {
      folder: await startGateway({ mode: settings.mode, simulators, configFile: { content }, env: { TASKGATE_ARCHIVE: `file://${folder}` } }),
      s3: await startGateway({ mode: settings.mode, simulators, configFile: { content, archive: { forcePathStyle: true } }, env: s3.env('bench') }),
      upstream: await startGateway({ mode: settings.mode, simulators, configFile: { content } }),
    };
    for (const gateway of Object.values(gateways)) stops.unshift(gateway.stop);
    const provider = simulators.primary;
    const serveId = await pinFileTask(provider, gateways.upstream, links[serveAsset]!, 'serve');
    const largeId = await pinFileTask(provider, gateways.upstream, links[memoryAsset]!, 'large');

    const copyMbps = {} as Record<StoreKey, number>;
    for (const store of STORES) {
      const seconds = await timeArchiving(gateways[store], largeId);
      copyMbps[store] = sizes.memoryMb / seconds;
      settings.log(`  archive copy into ${store}: ${sizes.memoryMb} MB archived in ${seconds.toFixed(2)} s (${copyMbps[store].toFixed(0)} MB/s)`);
      await timeArchiving(gateways[store], serveId);
    }

    const path = `/tasks/${encodeURIComponent(serveId)}/content`;
    const targets: TargetKey[] = ['upstream', 'folder', 's3'];
    const perRun: Array<Record<TargetKey, number>> = [];
    for (let run = 0; run < settings.runs; run++) {
      const results = {} as Record<TargetKey, number>;
      for (const target of rotate(targets, run)) {
        const pool = new Pool(gateways[target].url, { connections: 2 });
        pools.push(pool);
        await download(pool, path);
        results[target] = await throughput(pool, path, sizes.serveMb * MB, settings.durationSeconds);
        settings.log(`  archive serve run ${run + 1}/${settings.runs} ${target}: ${results[target].toFixed(0)} MB/s`);
      }
      perRun.push(results);
    }
    const memory = {} as Record<StoreKey, MemoryRun>;
    for (const store of STORES) memory[store] = await measureMemory(settings, gateways[store], `/tasks/${encodeURIComponent(largeId)}/content`, sizes, store);
    const per = (key: TargetKey) => spread(perRun.map((results) => results[key]));
    return {
      provider: provider.name,
      sizes,
      copyMbps,
      serveMbps: { upstream: per('upstream'), folder: per('folder'), s3: per('s3') },
      ratioToUpstream: {
        folder: spread(perRun.map((results) => results.folder / results.upstream)),
        s3: spread(perRun.map((results) => results.s3 / results.upstream)),
      },
      memory,
    };
  } finally {
    await Promise.all(pools.map((pool) => pool.destroy()));
    for (const stop of stops) await stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

const STORE_NAMES: Record<TargetKey, string> = {
  folder: 'the folder store',
  s3: 'the S3 store (s3rver)',
  upstream: 'the upstream content path (no archive: the CDN through the gateway)',
};

function archiveTargets(result: ArchiveResult): TargetRow[] {
  const { sizes } = result;
  return [
    ...STORES.map(
      (store): TargetRow => ({
        target: `archive: a ${sizes.serveMb} MB archived file through /tasks/{id}/content from ${STORE_NAMES[store]} / the same file by the upstream content path, MB/s`,
        measured: `${formatSpread(result.ratioToUpstream[store], 2, '×')} (${formatSpread(result.serveMbps[store], 0, ' MB/s')} vs ${formatSpread(result.serveMbps.upstream, 0, ' MB/s')})`,
        goal: 'report',
        met: undefined,
      }),
    ),
    ...STORES.map(
      (store): TargetRow => ({
        target: `archive: gateway RSS growth while ${sizes.memoryClients} clients each stream an archived ${sizes.memoryMb} MB file from ${STORE_NAMES[store]}`,
        measured: `${result.memory[store].growthMb.toFixed(1)} MB (at rest ${result.memory[store].idleRssMb.toFixed(0)} MB, peak ${result.memory[store].peakRssMb.toFixed(0)} MB; ${result.memory[store].completed} / ${sizes.memoryClients} complete)`,
        goal: 'report',
        met: undefined,
      }),
    ),
    {
      target: `archive: copy of a ${sizes.memoryMb} MB result file into the archive (first lookup to archived_at), MB/s`,
      measured: STORES.map((store) => `${STORE_NAMES[store]} ${result.copyMbps[store].toFixed(0)} MB/s`).join(', '),
      goal: 'report',
      met: undefined,
    },
  ];
}

function archiveDetails(result: ArchiveResult): string[] {
  const { sizes } = result;
  return [
    '### Result archive',
    '',
    `A succeeded task pinned at the ${result.provider} simulator whose result file is a synthetic file on the simulators' CDN, served by three gateways in one run: with the archive in a folder, with it in S3 (s3rver in its own process), and without (the upstream content path). Serving: one download at a time of the archived ${sizes.serveMb} MB file, pair by pair in each run. Copy: the ${sizes.memoryMb} MB file, from the first lookup to \`archived_at\` (polled every 10 ms). Memory: VmRSS every 100 ms while ${sizes.memoryClients} clients stream the archived ${sizes.memoryMb} MB file.`,
    '',
    '| target | MB/s serving | copy MB/s | RSS at rest / peak MB |',
    '|---|---|---|---|',
    ...(['upstream', ...STORES] as const).map((key) =>
      key === 'upstream'
        ? `| ${STORE_NAMES[key]} | ${formatSpread(result.serveMbps[key], 0)} | - | - |`
        : `| ${STORE_NAMES[key]} | ${formatSpread(result.serveMbps[key], 0)} | ${result.copyMbps[key].toFixed(0)} | ${result.memory[key].idleRssMb.toFixed(0)} / ${result.memory[key].peakRssMb.toFixed(0)} |`,
    ),
    '',
  ];
}

export const archiveScenario = defineScenario<ArchiveResult>({
  name: 'archive',
  title: 'archive (result files kept in a folder or S3)',
  run: runArchive,
  targets: archiveTargets,
  details: archiveDetails,
});
