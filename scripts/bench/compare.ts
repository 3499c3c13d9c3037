/**
 * Before/after of a change, measured side by side: two builds of the gateway (bundles)
 * run as two processes on one set of simulators, in alternating legs (the order swapped
 * every leg), so the drift of a shared machine cancels out of the per-leg ratios. Prints
 * req/s and CPU µs per request of each leg and their medians.
 *
 *   node --import tsx scripts/bench/compare.ts --before OLD/taskgate.mjs [--after dist/taskgate.mjs]
 *     [--path cached|passthrough|content] [--legs 6] [--seconds 4] [--connections 32]
 */
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { runLoad } from './load.js';
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
  },
});
if (values.before === undefined) throw new Error('--before BUNDLE is required');
const legs = Number(values.legs);
const seconds = Number(values.seconds);
const connections = Number(values.connections);

const simulators = await startSimulators('dist');
const builds: Array<{ name: string; gateway: Gateway; rps: number[]; cpuUs: number[] }> = [];
try {
  for (const [name, entry] of [['before', values.before], ['after', values.after]] as const) {
    builds.push({ name, gateway: await startGateway({ mode: 'dist', simulators, entry }), rps: [], cpuUs: [] });
  }
  const provider = simulators.primary;
  let pathFor: () => string;
  let nextPath: (() => string) | undefined;
  if (values.path === 'passthrough') {
    let counter = 0;
    await pinTask(provider, '*', { timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
    pathFor = () => `/tasks/${qualifiedId(provider, 'warmup')}`;
    nextPath = () => `/tasks/${qualifiedId(provider, `cmp-${(counter++).toString(36)}`)}`;
  } else {
    const path = `/tasks/${await pinTerminalTask(simulators)}`;
    pathFor = () => path;
    for (const build of builds) await (await request(`${build.gateway.url}${path}`)).body.dump();
  }
  for (let leg = 0; leg < legs; leg++) {
    const order = leg % 2 === 0 ? builds : [...builds].reverse();
    for (const build of order) {
      if (values.path === 'passthrough') {
        await resetSimulator(provider);
        await pinTask(provider, '*', { timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
      }
      const result = await runLoad({
        url: `${build.gateway.url}${pathFor()}`,
        connections,
        durationSeconds: seconds,
        nextPath,
        cpuOf: [{ pid: build.gateway.pid, withChildren: false }],
      });
      const cpuUs = (result.cpuMs[0]! * 1000) / Math.max(1, result.ok + result.non2xx);
      build.rps.push(result.rps);
      build.cpuUs.push(cpuUs);
      console.log(`leg ${leg + 1} ${build.name}: ${Math.round(result.rps)} req/s, ${cpuUs.toFixed(1)} µs CPU/request, non-2xx ${result.non2xx}`);
    }
  }
  const [before, after] = builds as [(typeof builds)[0], (typeof builds)[0]];
  const ratios = before.rps.map((rps, index) => after.rps[index]! / rps);
  console.log(
    `\nmedian: before ${Math.round(median(before.rps))} req/s ${median(before.cpuUs).toFixed(1)} µs; after ${Math.round(median(after.rps))} req/s ${median(after.cpuUs).toFixed(1)} µs; after/before req/s per leg ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}`,
  );
} finally {
  for (const build of builds) await build.gateway.stop();
  await simulators.stop();
  killAll();
}
