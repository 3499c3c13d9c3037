/**
 * Scenario "long-poll waiters": 10,000 concurrent `?wait=60` requests over 1,000 tasks
 * whose timelines are pinned, so the bench knows when each turns terminal; measures the
 * gateway's RSS while it holds them and the delay from "terminal" to each waiter's answer.
 */
import { request as undiciRequest, Pool } from 'undici';
import { memoryMb, sleep } from './processes.js';
import { inBatches, pinTask, resetSimulator, startGateway, startSimulators, GRAVITEX_KEY, GRAVITEX_TASK_PATH, VTRIX_KEY, VTRIX_TASK_PATH, type BenchSettings } from './stack.js';
import { percentile } from './stats.js';

export interface WaitersOptions {
  waiters: number;
  tasks: number;
  /** When the first task turns terminal, after its clock started (all waiters are in by then). */
  firstTerminalMs: number;
  /** Terminal times are spread evenly over this window after `firstTerminalMs`. */
  terminalSpreadMs: number;
  /** Waiters are opened at this rate per second. */
  rampPerSecond: number;
}

export interface WaitersRun {
  opened: number;
  answered: number;
  terminalAnswers: number;
  failures: number;
  /** Answers that came before their task turned terminal (should be 0). */
  early: number;
  /** Waiters the gateway reported holding at once (taskgate_active_waiters), just before the first terminal. */
  heldAtOnce: number;
  peakRssMb: number;
  hwmRssMb: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  pollIntervalMs: number;
}

/** Waiters opened but not yet reported held by the gateway, at most. */
const MAX_UNACCEPTED = 1000;

function waiterTasks(count: number, run: number) {
  return Array.from({ length: count }, (_, index) => {
    const vtrix = index % 2 === 0;
    const tag = `${run.toString(32)}${index.toString(32).padStart(5, '0')}`;
    return vtrix
      ? { provider: 'vtrix' as const, id: `a1${tag.padStart(18, '0')}` }
      : { provider: 'gravitex' as const, id: `video_wait${tag}` };
  });
}

function activeWaiters(metricsText: string): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (line.startsWith('taskgate_active_waiters')) total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

export async function runWaiters(settings: BenchSettings, options: WaitersOptions, run: number): Promise<WaitersRun> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  let pool: Pool | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const gateway = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    await Promise.all([resetSimulator(simulators.vtrix), resetSimulator(simulators.gravitex)]);
    const tasks = waiterTasks(options.tasks, run).map((task, index) => ({
      ...task,
      base: task.provider === 'vtrix' ? simulators.vtrix : simulators.gravitex,
      terminalAfterMs: options.firstTerminalMs + Math.round(((index * 7919) % options.tasks) * (options.terminalSpreadMs / options.tasks)),
      clockStartedAt: 0,
    }));
    await inBatches(tasks, 32, async (task) => {
      await pinTask(task.base, task.id, {
        timeline: [
          { atMs: 0, status: 'in_progress', progress: 10 },
          { atMs: task.terminalAfterMs, status: 'succeeded' },
        ],
      });
    });
    // A pinned task's clock starts at its next poll: start them all here, so the bench knows
    // each terminal time (taken at the send, so any error makes the measured delay longer).
    await inBatches(tasks, 32, async (task) => {
      const path = task.provider === 'vtrix' ? `${VTRIX_TASK_PATH}${task.id}` : `${GRAVITEX_TASK_PATH}${task.id}`;
      const key = task.provider === 'vtrix' ? VTRIX_KEY : GRAVITEX_KEY;
      task.clockStartedAt = Date.now();
      const response = await undiciRequest(`${task.base}${path}`, { headers: { authorization: `Bearer ${key}` } });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`starting the clock of ${task.id}: ${response.statusCode}`);
    });
    const firstTerminalAt = Math.min(...tasks.map((task) => task.clockStartedAt + task.terminalAfterMs));

    let peakRssMb = 0;
    sampler = setInterval(() => {
      try {
        peakRssMb = Math.max(peakRssMb, memoryMb(gateway.pid).rss);
      } catch {
        // The gateway is gone; the run will fail on its own.
      }
    }, 100);

    pool = new Pool(gateway.url, { connections: options.waiters + 16, headersTimeout: 120_000, bodyTimeout: 120_000, keepAliveTimeout: 60_000 });
    const delays: number[] = [];
    let answered = 0;
    let terminalAnswers = 0;
    let failures = 0;
    let early = 0;
    const pending: Promise<void>[] = [];
    const batch = Math.max(1, Math.round(options.rampPerSecond / 20));
    const held = async () => activeWaiters(await (await undiciRequest(`${gateway.url}/metrics`)).body.text());
    let opened = 0;
    // Open the waiters at the ramp rate, but never more than MAX_UNACCEPTED ahead of what
    // the gateway reports holding (an overflowing accept queue turns into resets), and stop
    // opening a second before the first task finishes.
    while (opened < options.waiters && Date.now() < firstTerminalAt - 1000) {
      if (opened - (await held()) > MAX_UNACCEPTED) {
        await sleep(50);
        continue;
      }
      for (const end = Math.min(options.waiters, opened + batch); opened < end; opened++) {
        const task = tasks[opened % tasks.length]!;
        const terminalAt = task.clockStartedAt + task.terminalAfterMs;
        pending.push(
          pool
            .request({ path: `/tasks/${task.id}?wait=60`, method: 'GET' })
            .then(async (response) => {
              const text = await response.body.text();
              const answeredAt = Date.now();
              answered++;
              if (response.statusCode !== 200) {
                if (failures++ === 0) settings.log(`  first failed waiter: ${response.statusCode} ${text.slice(0, 200)}`);
                return;
              }
              if ((JSON.parse(text) as { status?: string }).status === 'succeeded') terminalAnswers++;
              const delay = answeredAt - terminalAt;
              if (delay < 0) early++;
              else delays.push(delay);
            })
            .catch((error: unknown) => {
              if (failures++ === 0) settings.log(`  first failed waiter: ${(error as Error).message}`);
            }),
        );
      }
      await sleep(50);
    }
    settings.log(`  waiters run ${run + 1}: ${opened} waiters opened, ${Math.round(firstTerminalAt - Date.now())} ms before the first task turns terminal`);
    // Everyone is in: ask the gateway how many it holds, just before the first task finishes.
    await sleep(Math.max(0, firstTerminalAt - Date.now() - 300));
    const metrics = await undiciRequest(`${gateway.url}/metrics`);
    const heldAtOnce = activeWaiters(await metrics.body.text());
    if (opened < options.waiters) settings.log(`  waiters run ${run + 1}: only ${opened} of ${options.waiters} could be opened before the first task finished`);
    await Promise.all(pending);
    clearInterval(sampler);
    const memory = memoryMb(gateway.pid);
    const pollIntervalMs = 5000;
    const result: WaitersRun = {
      opened,
      answered,
      terminalAnswers,
      failures,
      early,
      heldAtOnce,
      peakRssMb: Math.max(peakRssMb, memory.rss),
      hwmRssMb: memory.peak,
      p50Ms: percentile(delays, 0.5),
      p99Ms: percentile(delays, 0.99),
      maxMs: Math.max(...delays),
      pollIntervalMs,
    };
    settings.log(
      `  waiters run ${run + 1}: held ${heldAtOnce} at once, ${answered} answered (${terminalAnswers} terminal, ${failures} failed, ${early} early); RSS peak ${result.peakRssMb.toFixed(0)} MB (HWM ${result.hwmRssMb.toFixed(0)}); terminal→answer p50 ${result.p50Ms} p99 ${result.p99Ms} max ${result.maxMs} ms`,
    );
    return result;
  } finally {
    clearInterval(sampler);
    await pool?.destroy();
    for (const stop of stops) await stop();
  }
}
