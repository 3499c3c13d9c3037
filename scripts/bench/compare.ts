/**
 * Before/after of a change, measured side by side: two builds of the gateway (bundles, or
 * their dist/taskgate.mjs entries) run as two processes on one set of simulators.
 *
 * - default: alternating flat-out legs (the order swapped every leg), req/s and CPU µs per
 *   request of each leg;
 * - `--rate N`: both builds loaded at once at N req/s each, leg after leg: whatever else
 *   runs on the machine then weighs on both alike, so the CPU µs per request of the two is
 *   the steadiest comparison a shared 2-core machine gives;
 * - `--path startup`: the two builds started one after the other, `--legs` times each
 *   (order swapped every leg), process start to the first 200 on /healthz.
 *
 * `--node PATH` runs both gateways on another Node, in every mode (e.g. the Node 24 of
 * .ci/run, or a wrapper script that adds `--cpu-prof` to profile both under the same load).
 *
 *   node --import tsx scripts/bench/compare.ts --before OLD/taskgate.mjs [--after dist/taskgate.mjs]
 *     [--path cached|passthrough|startup] [--legs 6] [--seconds 4] [--connections 32] [--rate N] [--node PATH]
 */
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { runLoad, type LoadResult } from './load.js';
import { killAll } from './processes.js';
import { pinTask, pinTerminalTask, qualifiedId, resetSimulator, startGateway, startSimulators, type Gateway } from './stack.js';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string', default: 'dist/taskgate.mjs' },
    path: { type: 'string', default: 'cached' },
    legs: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string' },
    node: { type: 'string' },
  },
});
if (values.before === undefined) throw new Error('--before BUNDLE is required');
if (values.path !== 'cached' && values.path !== 'passthrough' && values.path !== 'startup') throw new Error('--path is cached, passthrough or startup');
const legs = Number(values.legs);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rate = values.rate === undefined ? undefined : Number(values.rate);
const RUNNING = { timeline: [{ atMs: 0, status: 'in_progress' as const, progress: 40 }] };

interface Build {
  name: string;
  gateway: Gateway;
  rps: number[];
  cpuUs: number[];
}

const simulators = await startSimulators('dist');
if (values.path === 'startup') {
  try {
    const entries = [['before', values.before], ['after', values.after]] as const;
    const times: Record<string, number[]> = { before: [], after: [] };
    // One start more than recorded: the first of each fills its compile cache (Node ≥ 22).
    for (let index = 0; index <= legs; index++) {
      for (const [name, entry] of index % 2 === 0 ? entries : [...entries].reverse()) {
        const gateway = await startGateway({ mode: 'dist', simulators, entry, nodeBinary: values.node });
        await gateway.stop();
        if (index > 0) times[name]!.push(gateway.healthyAt - gateway.spawnedAt);
      }
    }
    for (const [name] of entries) console.log(`${name}: median ${median(times[name]!).toFixed(0)} ms to the first 200 (${times[name]!.map((ms) => ms.toFixed(0)).join(', ')})`);
  } finally {
    await simulators.stop();
    killAll();
  }
  process.exit(0);
}
const builds: Build[] = [];
try {
  for (const [name, entry] of [['before', values.before], ['after', values.after]] as const) {
    builds.push({ name, gateway: await startGateway({ mode: 'dist', simulators, entry, nodeBinary: values.node }), rps: [], cpuUs: [] });
  }
  const provider = simulators.primary;
  const passthrough = values.path === 'passthrough';
  let counter = 0;
  const cachedPath = passthrough ? '' : `/tasks/${await pinTerminalTask(simulators)}`;
  if (passthrough) await pinTask(provider, '*', RUNNING);
  else for (const build of builds) await (await request(`${build.gateway.url}${cachedPath}`)).body.dump();

  const leg = async (build: Build, record: boolean): Promise<void> => {
    const cpuBefore = build.gateway.cpuMs();
    const result: LoadResult = await runLoad({
      url: `${build.gateway.url}${passthrough ? `/tasks/${qualifiedId(provider, 'warmup')}` : cachedPath}`,
      connections,
      durationSeconds: seconds,
      nextPath: passthrough ? () => `/tasks/${qualifiedId(provider, `cmp-${(counter++).toString(36)}`)}` : undefined,
      ...(rate === undefined ? {} : { overallRate: rate }),
    });
    const cpuUs = ((build.gateway.cpuMs() - cpuBefore) * 1000) / Math.max(1, result.ok + result.non2xx);
    if (record) {
      build.rps.push(result.rps);
      build.cpuUs.push(cpuUs);
    }
    console.log(`${record ? '' : '(warm-up) '}${build.name}: ${Math.round(result.rps)} req/s, ${cpuUs.toFixed(1)} µs CPU/request, non-2xx ${result.non2xx}`);
  };
  // One leg more than recorded: the first warms both builds' JIT up.
  for (let index = 0; index <= legs; index++) {
    if (passthrough) {
      await resetSimulator(provider);
      await pinTask(provider, '*', RUNNING);
    }
    if (rate !== undefined) await Promise.all(builds.map((build) => leg(build, index > 0)));
    else for (const build of index % 2 === 0 ? builds : [...builds].reverse()) await leg(build, index > 0);
  }
  const [before, after] = builds as [Build, Build];
  const ratios = before.cpuUs.map((cpu, index) => after.cpuUs[index]! / cpu);
  console.log(
    `\nmedian: before ${Math.round(median(before.rps))} req/s ${median(before.cpuUs).toFixed(1)} µs; after ${Math.round(median(after.rps))} req/s ${median(after.cpuUs).toFixed(1)} µs; after/before CPU per leg ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}`,
  );
} finally {
  for (const build of builds) await build.gateway.stop();
  await simulators.stop();
  killAll();
}
