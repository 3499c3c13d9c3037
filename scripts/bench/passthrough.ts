/**
 * Scenario "pass-through": a new task id on every request, so no cache can answer and
 * every request costs one upstream call to the primary provider's simulator (a `*` story
 * pinned there makes every id exist). Targets: the simulator called directly, nginx
 * proxy_pass, a bare node:http + undici proxy, the same proxy as a plain fastify route
 * (the framework's floor), and the gateway.
 * Throughput is measured flat out (32 connections); added latency at a fixed rate well
 * below every target's limit, where the p99 shows the hop's cost rather than a queue.
 */
import { runLoad, type LoadResult } from './load.js';
import { ensureNginx, startNginx } from './nginx.js';
import { defineScenario, type TargetRow } from './scenario.js';
import {
  directPath,
  pinTask,
  qualifiedId,
  resetSimulator,
  rotate,
  startGateway,
  startReference,
  startSimulators,
  type BenchSettings,
  type SimulatedProvider,
} from './stack.js';
import { formatSpread, spread, type Spread } from './stats.js';

export const PASS_CONNECTIONS = 32;
export const LATENCY_CONNECTIONS = 8;

type TargetKey = 'direct' | 'nginx' | 'proxy' | 'fastifyProxy' | 'gateway';

interface Target {
  key: TargetKey;
  base: string;
  /** The path that asks this target for task `id`. */
  pathOf: (id: string) => string;
  headers?: Record<string, string>;
  /** Processes whose CPU time is charged to this target, the simulator excluded. */
  cpuPid: number;
  withChildren: boolean;
}

export interface PassRun {
  saturated: LoadResult;
  fixedRate: LoadResult;
  /** µs of CPU per answered request: the target's own process(es), then the simulator's. */
  cpuUsPerRequest: number;
  simulatorCpuUsPerRequest: number;
}

export interface PassthroughResult {
  provider: string;
  nginx: { version: string } | { skipped: string };
  fixedRate: number;
  rps: Partial<Record<TargetKey, Spread>>;
  saturatedP99Ms: Partial<Record<TargetKey, Spread>>;
  fixedP50Ms: Partial<Record<TargetKey, Spread>>;
  fixedP99Ms: Partial<Record<TargetKey, Spread>>;
  cpuUsPerRequest: Partial<Record<TargetKey, Spread>>;
  simulatorCpuUsPerRequest: Partial<Record<TargetKey, Spread>>;
  ratioToNginx: Spread | undefined;
  ratioToProxy: Spread;
  ratioToFastifyProxy: Spread;
  addedP99Ms: Spread;
  addedP99SaturatedMs: Spread;
  perRun: Array<Partial<Record<TargetKey, PassRun>>>;
}

/** Every id the simulator is asked for is running (a poll that finds new data). */
const EVERY_ID_STORY = { timeline: [{ atMs: 0, status: 'in_progress' as const, progress: 40 }] };

/** Ids that never repeat across targets and runs: a tag per leg, then a counter. */
function idSource(tag: number): () => string {
  const prefix = `pt${tag.toString(36)}-`;
  let counter = 0;
  return () => prefix + (counter++).toString(36);
}

/** Forgets what the previous leg left (every remembered id costs the simulator memory), keeping every id alive. */
async function freshSimulator(provider: SimulatedProvider): Promise<void> {
  await resetSimulator(provider);
  await pinTask(provider, '*', EVERY_ID_STORY);
}

async function runPassthrough(settings: BenchSettings): Promise<PassthroughResult> {
  const simulators = await startSimulators(settings.mode);
  const provider = simulators.primary;
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const fixedRate = settings.quick ? 300 : 1000;
  try {
    await freshSimulator(provider);
    const gateway = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    const proxyArgs = [
      '--upstream',
      provider.url,
      '--task-path',
      provider.taskPathPrefix,
      '--provider',
      provider.name,
      ...Object.entries(provider.authHeaders).flatMap(([name, value]) => ['--header', `${name}=${value}`]),
    ];
    const proxy = await startReference('node:http + undici proxy', 'node-proxy.ts', proxyArgs);
    stops.unshift(proxy.stop);
    const fastifyProxy = await startReference('fastify + undici proxy', 'node-proxy.ts', [...proxyArgs, '--fastify'], settings.gatewayNodeFlags);
    stops.unshift(fastifyProxy.stop);
    const plain = (id: string) => `/tasks/${id}`;
    const targets: Target[] = [
      { key: 'direct', base: provider.url, pathOf: (id) => directPath(provider, id), headers: provider.authHeaders, cpuPid: simulators.pid, withChildren: false },
      { key: 'proxy', base: proxy.url, pathOf: plain, cpuPid: proxy.pid, withChildren: false },
      { key: 'fastifyProxy', base: fastifyProxy.url, pathOf: plain, cpuPid: fastifyProxy.pid, withChildren: false },
      { key: 'gateway', base: gateway.url, pathOf: (id) => `/tasks/${qualifiedId(provider, id)}`, cpuPid: gateway.pid, withChildren: false },
    ];
    const found = ensureNginx(settings.log);
    let nginxInfo: PassthroughResult['nginx'];
    if ('skip' in found) {
      settings.log(`  nginx skipped: ${found.skip}`);
      nginxInfo = { skipped: found.skip };
    } else {
      const location = { prefix: '/tasks/', upstream: provider.url, upstreamPath: provider.taskPathPrefix, headers: { ...provider.authHeaders, accept: 'application/json' } };
      const nginx = await startNginx(found.binary, [location], '/tasks/nginx-probe');
      stops.unshift(nginx.stop);
      targets.splice(1, 0, { key: 'nginx', base: nginx.url, pathOf: plain, cpuPid: nginx.pid, withChildren: true });
      nginxInfo = { version: found.version };
    }

    const perRun: Array<Partial<Record<TargetKey, PassRun>>> = [];
    let tag = 1;
    for (let run = 0; run < settings.runs; run++) {
      const results: Partial<Record<TargetKey, PassRun>> = {};
      for (const target of rotate(targets, run)) {
        const load = async (options: { durationSeconds: number; connections: number; overallRate?: number; cpu: boolean }) => {
          await freshSimulator(provider);
          const nextId = idSource(tag++);
          return runLoad({
            url: `${target.base}${target.pathOf('warmup')}`,
            connections: options.connections,
            durationSeconds: options.durationSeconds,
            headers: target.headers,
            nextPath: () => target.pathOf(nextId()),
            ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
            cpuOf: options.cpu
              ? [
                  { pid: target.cpuPid, withChildren: target.withChildren },
                  { pid: simulators.pid, withChildren: false },
                ]
              : [],
          });
        };
        await load({ durationSeconds: settings.warmupSeconds, connections: PASS_CONNECTIONS, cpu: false });
        const saturated = await load({ durationSeconds: settings.durationSeconds, connections: PASS_CONNECTIONS, cpu: true });
        const fixed = await load({
          durationSeconds: Math.max(2, Math.round(settings.durationSeconds / 2)),
          connections: LATENCY_CONNECTIONS,
          overallRate: fixedRate,
          cpu: false,
        });
        const answered = Math.max(1, saturated.ok + saturated.non2xx);
        results[target.key] = {
          saturated,
          fixedRate: fixed,
          cpuUsPerRequest: target.key === 'direct' ? Number.NaN : (saturated.cpuMs[0]! * 1000) / answered,
          simulatorCpuUsPerRequest: (saturated.cpuMs[1]! * 1000) / answered,
        };
        settings.log(
          `  pass-through run ${run + 1}/${settings.runs} ${target.key}: ${Math.round(saturated.rps)} req/s (p99 ${saturated.p99Ms.toFixed(2)} ms, non-2xx ${saturated.non2xx}, errors ${saturated.errors}); at ${fixedRate}/s p50 ${fixed.p50Ms.toFixed(2)} p99 ${fixed.p99Ms.toFixed(2)} ms`,
        );
      }
      perRun.push(results);
    }

    const keys = targets.map((target) => target.key);
    const per = (read: (run: PassRun) => number) =>
      Object.fromEntries(keys.map((key) => [key, spread(perRun.map((results) => read(results[key]!)))])) as Partial<Record<TargetKey, Spread>>;
    const pair = (read: (results: Partial<Record<TargetKey, PassRun>>) => number) => spread(perRun.map(read));
    return {
      provider: provider.name,
      nginx: nginxInfo,
      fixedRate,
      rps: per((run) => run.saturated.rps),
      saturatedP99Ms: per((run) => run.saturated.p99Ms),
      fixedP50Ms: per((run) => run.fixedRate.p50Ms),
      fixedP99Ms: per((run) => run.fixedRate.p99Ms),
      cpuUsPerRequest: per((run) => run.cpuUsPerRequest),
      simulatorCpuUsPerRequest: per((run) => run.simulatorCpuUsPerRequest),
      ratioToNginx: keys.includes('nginx') ? pair((results) => results.gateway!.saturated.rps / results.nginx!.saturated.rps) : undefined,
      ratioToProxy: pair((results) => results.gateway!.saturated.rps / results.proxy!.saturated.rps),
      ratioToFastifyProxy: pair((results) => results.gateway!.saturated.rps / results.fastifyProxy!.saturated.rps),
      addedP99Ms: pair((results) => results.gateway!.fixedRate.p99Ms - results.direct!.fixedRate.p99Ms),
      addedP99SaturatedMs: pair((results) => results.gateway!.saturated.p99Ms - results.direct!.saturated.p99Ms),
      perRun,
    };
  } finally {
    for (const stop of stops) await stop();
  }
}

const FASTIFY_PROXY_TARGET = 0.9;
const NGINX_TARGET = 0.65;
const ADDED_P99_TARGET_MS = 5;

function passTargets(pass: PassthroughResult): TargetRow[] {
  const { ratioToNginx, ratioToFastifyProxy, addedP99Ms, fixedRate } = pass;
  const ratio = (value: Spread) => formatSpread(value, 2, '×');
  const nginxRow: TargetRow =
    ratioToNginx === undefined
      ? { target: 'pass-through: gateway / nginx proxy_pass, req/s', measured: `skipped: ${'skipped' in pass.nginx ? pass.nginx.skipped : ''}`, goal: `≥ ${NGINX_TARGET.toFixed(2)}×`, met: undefined }
      : {
          target: 'pass-through, a new id per request: gateway / nginx proxy_pass, req/s',
          measured: `${ratio(ratioToNginx)} (gateway ${formatSpread(pass.rps.gateway!)} req/s; the plain fastify proxy: ${ratio(spread(pass.perRun.map((run) => run.fastifyProxy!.saturated.rps / run.nginx!.saturated.rps)))} nginx)`,
          goal: `≥ ${NGINX_TARGET.toFixed(2)}×`,
          met: ratioToNginx.median >= NGINX_TARGET,
        };
  return [
    {
      target: 'pass-through: gateway / the same undici proxy as a plain fastify route, req/s',
      measured: `${ratio(ratioToFastifyProxy)} (${ratio(pass.ratioToProxy)} the bare node:http proxy)`,
      goal: `≥ ${FASTIFY_PROXY_TARGET.toFixed(2)}×`,
      met: ratioToFastifyProxy.median >= FASTIFY_PROXY_TARGET,
    },
    nginxRow,
    {
      target: `pass-through: added p99 over direct, at ${fixedRate} req/s`,
      measured: formatSpread(addedP99Ms, 2, ' ms'),
      goal: `≤ ${ADDED_P99_TARGET_MS} ms`,
      met: addedP99Ms.median <= ADDED_P99_TARGET_MS,
    },
    {
      target: 'pass-through: CPU per request (user+sys / answers)',
      measured: `gateway ${formatSpread(pass.cpuUsPerRequest.gateway!, 0, ' µs')}, fastify proxy ${formatSpread(pass.cpuUsPerRequest.fastifyProxy!, 0, ' µs')}${pass.cpuUsPerRequest.nginx ? `, nginx ${formatSpread(pass.cpuUsPerRequest.nginx, 0, ' µs')}` : ''}`,
      goal: 'report',
      met: undefined,
    },
  ];
}

function passDetails(pass: PassthroughResult): string[] {
  const names: Record<string, string> = {
    direct: 'simulator, direct',
    nginx: `nginx proxy_pass${'version' in pass.nginx ? ` (${pass.nginx.version})` : ''}`,
    proxy: 'bare node:http + undici proxy (scripts/bench/node-proxy.ts)',
    fastifyProxy: 'the same proxy as a plain fastify route (node-proxy.ts --fastify)',
    gateway: 'gateway',
  };
  const lines = [
    '### Pass-through (a new id per request)',
    '',
    `\`GET /tasks/${pass.provider}:<new id>\` (the references: \`/tasks/<new id>\`): no cache can answer, every request is one upstream call to the ${pass.provider} simulator (the registry's first provider; a \`*\` story pinned there makes every id a running task). Throughput flat out with ${PASS_CONNECTIONS} connections; latency at a fixed ${pass.fixedRate} req/s over ${LATENCY_CONNECTIONS} connections (below every target's limit, so the p99 is the hop's cost, not a queue). CPU per request is user+sys time of the target's process(es) during the flat-out leg divided by its answers; the simulator's own share is listed apart.`,
    '',
    '| target | req/s flat out | p99 ms flat out | p50 ms at fixed rate | p99 ms at fixed rate | CPU µs / request | simulator CPU µs / request |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const key of ['direct', 'nginx', 'proxy', 'fastifyProxy', 'gateway'] as const) {
    if (pass.rps[key] === undefined) continue;
    lines.push(
      `| ${names[key]} | ${formatSpread(pass.rps[key])} | ${formatSpread(pass.saturatedP99Ms[key]!, 2)} | ${formatSpread(pass.fixedP50Ms[key]!, 2)} | ${formatSpread(pass.fixedP99Ms[key]!, 2)} | ${key === 'direct' ? '-' : formatSpread(pass.cpuUsPerRequest[key]!, 0)} | ${formatSpread(pass.simulatorCpuUsPerRequest[key]!, 0)} |`,
    );
  }
  if ('skipped' in pass.nginx) lines.push('', `nginx: skipped (${pass.nginx.skipped}).`);
  const perRun = (read: (run: (typeof pass.perRun)[number]) => number, digits = 2) => pass.perRun.map((run) => read(run).toFixed(digits)).join(', ');
  lines.push(
    '',
    `Ratios, pair by pair in each run: gateway / fastify proxy ${perRun((run) => run.gateway!.saturated.rps / run.fastifyProxy!.saturated.rps)}; gateway / nginx ${pass.ratioToNginx ? perRun((run) => run.gateway!.saturated.rps / run.nginx!.saturated.rps) : 'n/a'}; gateway / Node proxy ${perRun((run) => run.gateway!.saturated.rps / run.proxy!.saturated.rps)}; fastify proxy / Node proxy ${perRun((run) => run.fastifyProxy!.saturated.rps / run.proxy!.saturated.rps)}; nginx / direct ${pass.ratioToNginx ? perRun((run) => run.nginx!.saturated.rps / run.direct!.saturated.rps) : 'n/a'}. Added p99 over direct at the fixed rate (ms): ${perRun((run) => run.gateway!.fixedRate.p99Ms - run.direct!.fixedRate.p99Ms)}; flat out: ${perRun((run) => run.gateway!.saturated.p99Ms - run.direct!.saturated.p99Ms)}.`,
    '',
  );
  return lines;
}

export const passthroughScenario = defineScenario<PassthroughResult>({
  name: 'passthrough',
  title: 'pass-through',
  run: runPassthrough,
  targets: passTargets,
  details: passDetails,
});
