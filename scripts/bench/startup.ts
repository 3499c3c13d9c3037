/**
 * Scenario "start-up": from spawning the gateway's process to its first 200 (`/healthz`),
 * and to the first 200 for a real task (one upstream call to the simulator).
 */
import { request } from 'undici';
import { startGateway, startSimulators, TERMINAL_TASK_ID, type BenchSettings, type RunMode } from './stack.js';
import { spread, type Spread } from './stats.js';

export interface StartupResult {
  mode: RunMode;
  toHealthzMs: Spread;
  toFirstTaskMs: Spread;
}

export async function runStartup(settings: BenchSettings, mode: RunMode, runs: number): Promise<StartupResult> {
  const simulators = await startSimulators(settings.mode);
  const healthz: number[] = [];
  const firstTask: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const gateway = await startGateway({ mode, simulators });
      try {
        const response = await request(`${gateway.url}/tasks/${TERMINAL_TASK_ID}`);
        await response.body.dump();
        const answeredAt = performance.now();
        if (response.statusCode !== 200) throw new Error(`first task answered ${response.statusCode}`);
        healthz.push(gateway.healthyAt - gateway.spawnedAt);
        firstTask.push(answeredAt - gateway.spawnedAt);
        settings.log(`  start-up (${mode}) run ${run + 1}/${runs}: first 200 after ${Math.round(healthz.at(-1)!)} ms, first task after ${Math.round(firstTask.at(-1)!)} ms`);
      } finally {
        await gateway.stop();
      }
    }
  } finally {
    await simulators.stop();
  }
  return { mode, toHealthzMs: spread(healthz), toFirstTaskMs: spread(firstTask) };
}
