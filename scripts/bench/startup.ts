/**
 * Scenario "start-up": from spawning the gateway's process to its first 200 (`/healthz`),
 * and to the first 200 for a real task (one upstream call to the simulator); on the
 * bench's own Node and on every other Node it was given (the image's LTS, e.g. Node 24).
 * The CPU time the process had used by its first 200 is reported too: unlike the wall
 * time, it hardly moves when other work shares the machine.
 */
import { spawnSync } from 'node:child_process';
import { request } from 'undici';
import { defineScenario, type TargetRow } from './scenario.js';
import { pinTerminalTask, startGateway, startSimulators, type BenchSettings, type RunMode } from './stack.js';
import { formatSpread, round, spread, type Spread } from './stats.js';

export interface StartupResult {
  mode: RunMode;
  /** `process.version` of the node that ran the gateway. */
  node: string;
  toHealthzMs: Spread;
  toFirstTaskMs: Spread;
  cpuMsAtHealthz: Spread;
  /** Every run to the first 200, in order (the first after a build compiles without a cache). */
  healthzRunsMs: number[];
}

const TARGET_MS = 400;

function versionOf(nodeBinary: string): string {
  return spawnSync(nodeBinary, ['--version'], { encoding: 'utf8' }).stdout.trim() || 'unknown';
}

async function measure(settings: BenchSettings, mode: RunMode, nodeBinary: string, runs: number): Promise<StartupResult> {
  const simulators = await startSimulators(settings.mode);
  const node = versionOf(nodeBinary);
  const healthz: number[] = [];
  const firstTask: number[] = [];
  const cpu: number[] = [];
  try {
    const taskPath = `/tasks/${await pinTerminalTask(simulators)}`;
    for (let run = 0; run < runs; run++) {
      const gateway = await startGateway({ mode, simulators, nodeBinary });
      try {
        const response = await request(`${gateway.url}${taskPath}`);
        await response.body.dump();
        const answeredAt = performance.now();
        if (response.statusCode !== 200) throw new Error(`first task answered ${response.statusCode}`);
        healthz.push(gateway.healthyAt - gateway.spawnedAt);
        firstTask.push(answeredAt - gateway.spawnedAt);
        cpu.push(gateway.cpuMsAtHealthy);
        settings.log(`  start-up (${mode}, node ${node}) run ${run + 1}/${runs}: first 200 after ${Math.round(healthz.at(-1)!)} ms (CPU ${Math.round(cpu.at(-1)!)} ms), first task after ${Math.round(firstTask.at(-1)!)} ms`);
      } finally {
        await gateway.stop();
      }
    }
  } finally {
    await simulators.stop();
  }
  return { mode, node, toHealthzMs: spread(healthz), toFirstTaskMs: spread(firstTask), cpuMsAtHealthz: spread(cpu), healthzRunsMs: healthz };
}

function entryName(start: StartupResult): string {
  return start.mode === 'dist' ? `\`node dist/taskgate.mjs\` on Node ${start.node}` : `\`node --import tsx src/server.ts\` on Node ${start.node}`;
}

export const startupScenario = defineScenario<StartupResult[]>({
  name: 'startup',
  title: 'start-up',
  run: async (settings) => {
    const runs = settings.quick ? 2 : 5;
    const results = [await measure(settings, 'dist', process.execPath, runs)];
    for (const other of settings.otherNodes) results.push(await measure(settings, 'dist', other, runs));
    if (!settings.quick) results.push(await measure(settings, 'source', process.execPath, 3));
    return results;
  },
  targets: (startup): TargetRow[] =>
    startup
      .filter((start) => start.mode === 'dist')
      .map((start) => ({
        target: `start-up: process start to first 200 (${entryName(start)})`,
        measured: `${formatSpread(start.toHealthzMs, 0, ' ms')} (CPU ${formatSpread(start.cpuMsAtHealthz, 0, ' ms')})`,
        goal: `≤ ${TARGET_MS} ms`,
        met: start.toHealthzMs.median <= TARGET_MS,
      })),
  details: (startup) => {
    const lines = [
      '### Start-up',
      '',
      'From `spawn()` of the process to the first 200 on `/healthz` (polled every 5 ms), and to the first 200 for a real task (one upstream call); the CPU time (user+sys) the process had used by its first 200. The first run after a build starts without a compile cache (Node ≥ 22 keeps one in the temp directory), the others with it.',
      '',
      '| entry | to first 200 | CPU by then | to first task 200 | each run to first 200 |',
      '|---|---|---|---|---|',
    ];
    for (const start of startup) {
      lines.push(
        `| ${entryName(start)} | ${formatSpread(start.toHealthzMs, 0, ' ms')} | ${formatSpread(start.cpuMsAtHealthz, 0, ' ms')} | ${formatSpread(start.toFirstTaskMs, 0, ' ms')} | ${start.healthzRunsMs.map((ms) => round(ms)).join(', ')} |`,
      );
    }
    lines.push('');
    return lines;
  },
});
