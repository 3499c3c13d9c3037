/**
 * Scenario "pass-through": a new task id on every request, so no cache can answer and
 * every request costs one upstream call to the vtrix simulator. Targets: the simulator
 * called directly, nginx proxy_pass, a bare node:http + undici proxy, the same proxy as a
 * plain fastify route (the framework's floor), and the gateway.
 * Throughput is measured flat out (32 connections); added latency at a fixed rate well
 * below every target's limit, where the p99 shows the hop's cost rather than a queue.
 */
import { runLoad, type LoadResult } from './load.js';
import { ensureNginx, startNginx } from './nginx.js';
import {
  resetSimulator,
  rotate,
  startGateway,
  startReference,
  startSimulators,
  VTRIX_KEY,
  VTRIX_TASK_PATH,
  type BenchSettings,
} from './stack.js';
import { spread, type Spread } from './stats.js';

export const PASS_CONNECTIONS = 32;
export const LATENCY_CONNECTIONS = 8;

type TargetKey = 'direct' | 'nginx' | 'proxy' | 'fastifyProxy' | 'gateway';

interface Target {
  key: TargetKey;
  base: string;
  pathPrefix: string;
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

const XID_ALPHABET = 32;

/**
 * Unique vtrix-shaped ids (20 characters of [0-9a-v]) that never repeat across targets
 * and runs: a 3-character tag, then a counter. They never spell `missing`, which the
 * simulator would treat as an absent task.
 */
function idSource(tag: number): () => string {
  const prefix = tag.toString(XID_ALPHABET).padStart(3, '0');
  let counter = 0;
  return () => prefix + (counter++).toString(XID_ALPHABET).padStart(17, '0');
}

export async function runPassthrough(settings: BenchSettings): Promise<PassthroughResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const fixedRate = settings.quick ? 300 : 1000;
  try {
    const gateway = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    const proxy = await startReference('node:http + undici proxy', 'node-proxy.ts', ['--upstream', simulators.vtrix, '--key', VTRIX_KEY]);
    stops.unshift(proxy.stop);
    const fastifyProxy = await startReference('fastify + undici proxy', 'node-proxy.ts', ['--upstream', simulators.vtrix, '--key', VTRIX_KEY, '--fastify']);
    stops.unshift(fastifyProxy.stop);
    const targets: Target[] = [
      { key: 'direct', base: simulators.vtrix, pathPrefix: VTRIX_TASK_PATH, headers: { authorization: `Bearer ${VTRIX_KEY}` }, cpuPid: simulators.pid, withChildren: false },
      { key: 'proxy', base: proxy.url, pathPrefix: '/tasks/', cpuPid: proxy.pid, withChildren: false },
      { key: 'fastifyProxy', base: fastifyProxy.url, pathPrefix: '/tasks/', cpuPid: fastifyProxy.pid, withChildren: false },
      { key: 'gateway', base: gateway.url, pathPrefix: '/tasks/', cpuPid: gateway.pid, withChildren: false },
    ];
    const found = ensureNginx(settings.log);
    let nginxInfo: PassthroughResult['nginx'];
    if ('skip' in found) {
      settings.log(`  nginx skipped: ${found.skip}`);
      nginxInfo = { skipped: found.skip };
    } else {
      const nginx = await startNginx(found.binary, simulators.vtrix, VTRIX_KEY, VTRIX_TASK_PATH);
      stops.unshift(nginx.stop);
      targets.splice(1, 0, { key: 'nginx', base: nginx.url, pathPrefix: '/tasks/', cpuPid: nginx.pid, withChildren: true });
      nginxInfo = { version: found.version };
    }

    const perRun: Array<Partial<Record<TargetKey, PassRun>>> = [];
    let tag = 1;
    for (let run = 0; run < settings.runs; run++) {
      const results: Partial<Record<TargetKey, PassRun>> = {};
      for (const target of rotate(targets, run)) {
        const load = async (options: { durationSeconds: number; connections: number; overallRate?: number; cpu: boolean }) => {
          // Every task the simulator remembers costs it memory: start each leg clean.
          await resetSimulator(simulators.vtrix);
          const nextId = idSource(tag++);
          return runLoad({
            url: `${target.base}${target.pathPrefix}warmup`,
            connections: options.connections,
            durationSeconds: options.durationSeconds,
            headers: target.headers,
            nextPath: () => `${target.pathPrefix}${nextId()}`,
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
