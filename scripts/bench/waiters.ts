/**
 * Scenario "long-poll waiters": 10,000 concurrent `?wait=60` requests over 1,000 tasks
 * (spread over every provider of the registry) whose timelines are pinned, so the bench
 * knows when each turns terminal; measures the gateway's RSS while it holds them and the
 * delay from "terminal" to each waiter's answer.
 */
import { Pool } from 'undici';
import { memoryMb, sampleRss, sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import {
  gatewayMetrics,
  inBatches,
  metricSum,
  pinTask,
  qualifiedId,
  resetSimulator,
  startGateway,
  startSimulators,
  type BenchSettings,
  type SimulatedProvider,
} from './stack.js';
import { formatSpread, percentile, round, spread } from './stats.js';

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

function waiterTasks(providers: readonly SimulatedProvider[], count: number, run: number) {
  return Array.from({ length: count }, (_, index) => {
    const provider = providers[index % providers.length]!;
    return { provider, id: provider.sampleId(`wait-${run}-${index}`) };
  });
}

async function runWaiters(settings: BenchSettings, options: WaitersOptions, run: number): Promise<WaitersRun> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  let pool: Pool | undefined;
  let sampler: { stop(): number } | undefined;
  try {
    // One load generator stands for many clients: the per-client watch cap would hold it back.
    const configFile = { limits: { watchesPerClient: options.waiters } };
    const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    await Promise.all(simulators.providers.map((provider) => resetSimulator(provider)));
    const tasks = waiterTasks(simulators.providers, options.tasks, run).map((task, index) => ({
      ...task,
      terminalAfterMs: options.firstTerminalMs + Math.round(((index * 7919) % options.tasks) * (options.terminalSpreadMs / options.tasks)),
      clockStartedAt: 0,
    }));
    // Each story's clock starts when it is pinned, so the bench knows each terminal time
    // (taken at the send, so any delay makes the measured delay longer, never shorter).
    await inBatches(tasks, 32, async (task) => {
      task.clockStartedAt = Date.now();
      await pinTask(task.provider, task.id, {
        startClock: true,
        timeline: [
          { atMs: 0, status: 'in_progress', progress: 10 },
          { atMs: task.terminalAfterMs, status: 'succeeded' },
        ],
      });
    });
    const firstTerminalAt = Math.min(...tasks.map((task) => task.clockStartedAt + task.terminalAfterMs));

    sampler = sampleRss(gateway.pid);

    pool = new Pool(gateway.url, { connections: options.waiters + 16, headersTimeout: 120_000, bodyTimeout: 120_000, keepAliveTimeout: 60_000 });
    const delays: number[] = [];
    let answered = 0;
    let terminalAnswers = 0;
    let failures = 0;
    let early = 0;
    const pending: Promise<void>[] = [];
    const batch = Math.max(1, Math.round(options.rampPerSecond / 20));
    const held = async () => metricSum(await gatewayMetrics(gateway), 'taskgate_active_waiters');
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
            .request({ path: `/tasks/${qualifiedId(task.provider, task.id)}?wait=60`, method: 'GET' })
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
    const heldAtOnce = await held();
    if (opened < options.waiters) settings.log(`  waiters run ${run + 1}: only ${opened} of ${options.waiters} could be opened before the first task finished`);
    await Promise.all(pending);
    const peakRssMb = sampler.stop();
    const memory = memoryMb(gateway.pid);
    // The gateway polls each waited-on task at its provider's cadence: the slowest one bounds the delay.
    const pollIntervalMs = Math.max(...simulators.providers.map((provider) => provider.defaultCadenceMs));
    const result: WaitersRun = {
      opened,
      answered,
      terminalAnswers,
      failures,
      early,
      heldAtOnce,
      peakRssMb,
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
    sampler?.stop();
    await pool?.destroy();
    for (const stop of stops) await stop();
  }
}

export interface WaitersResult {
  options: WaitersOptions;
  runs: WaitersRun[];
}

const RSS_TARGET_MB = 300;
/** How late after a poll a waiter may be answered, beyond the poll interval itself. */
const ANSWER_SLACK_MS = 100;

function waitersTargets(waiters: WaitersResult): TargetRow[] {
  const rss = spread(waiters.runs.map((run) => run.peakRssMb));
  const p99 = spread(waiters.runs.map((run) => run.p99Ms));
  const limit = (waiters.runs[0]?.pollIntervalMs ?? 5000) + ANSWER_SLACK_MS;
  return [
    {
      target: `${round(waiters.options.waiters)} long-poll waiters over ${round(waiters.options.tasks)} tasks: gateway RSS peak`,
      measured: formatSpread(rss, 0, ' MB'),
      goal: `≤ ${RSS_TARGET_MB} MB`,
      met: rss.median <= RSS_TARGET_MB,
    },
    {
      target: 'long-poll waiters: task terminal → answer, p99',
      measured: formatSpread(p99, 0, ' ms'),
      goal: `≤ poll interval + ${ANSWER_SLACK_MS} ms = ${round(limit)} ms`,
      met: p99.median <= limit,
    },
  ];
}

function waitersDetails(waiters: WaitersResult): string[] {
  const { options } = waiters;
  const interval = waiters.runs[0]?.pollIntervalMs ?? 5000;
  const lines = [
    '### Long-poll waiters',
    '',
    `${round(options.waiters)} concurrent \`GET /tasks/{id}?wait=60\` (one connection each, opened at ${round(options.rampPerSecond)}/s) over ${round(options.tasks)} pinned tasks (spread over the providers) that turn terminal between ${options.firstTerminalMs / 1000} s and ${(options.firstTerminalMs + options.terminalSpreadMs) / 1000} s after their clocks start (each story's clock starts when the bench pins it, so it knows every terminal time). The delay is from that time to the waiter's complete answer; the gateway polls each task at its provider's cadence (at most ${interval / 1000} s), so the delay is mostly where in its cycle the task happened to finish. RSS: the gateway's VmRSS sampled every 100 ms (peak) and VmHWM.`,
    '',
    '| run | opened / held at once | answered (terminal / failed / early) | RSS peak MB | VmHWM MB | delay p50 ms | delay p99 ms | delay max ms |',
    '|---|---|---|---|---|---|---|---|',
  ];
  waiters.runs.forEach((run, index) => {
    lines.push(
      `| ${index + 1} | ${round(run.opened)} / ${round(run.heldAtOnce)} | ${round(run.answered)} (${round(run.terminalAnswers)} / ${run.failures} / ${run.early}) | ${run.peakRssMb.toFixed(0)} | ${run.hwmRssMb.toFixed(0)} | ${round(run.p50Ms)} | ${round(run.p99Ms)} | ${round(run.maxMs)} |`,
    );
  });
  lines.push('');
  return lines;
}

export const waitersScenario = defineScenario<WaitersResult>({
  name: 'waiters',
  title: 'long-poll waiters',
  run: async (settings) => {
    const options: WaitersOptions = settings.quick
      ? { waiters: 1000, tasks: 100, firstTerminalMs: 4000, terminalSpreadMs: 4000, rampPerSecond: 2000 }
      : { waiters: 10_000, tasks: 1000, firstTerminalMs: 12_000, terminalSpreadMs: 10_000, rampPerSecond: 2000 };
    const runs: WaitersRun[] = [];
    for (let run = 0; run < (settings.quick ? 1 : 3); run++) runs.push(await runWaiters(settings, options, run));
    return { options, runs };
  },
  targets: waitersTargets,
  details: waitersDetails,
});
