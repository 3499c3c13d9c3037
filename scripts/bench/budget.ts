/**
 * Scenario "upstream budget": a client's lookup while 5,000 watched tasks (one SSE stream
 * each) poll a provider that answers every status call in 500 ms, against the same lookup
 * with nothing watched. The gateway keeps the provider's default budget
 * (`maxRequestsPerSecond` 50): poll loops wait their turn within it, client lookups go
 * at once. A lookup is a task nobody asked for before, so each is one upstream call.
 */
import { Pool } from 'undici';
import { memoryMb, sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import {
  gatewayMetrics,
  injectFault,
  metricSum,
  pinTask,
  qualifiedId,
  resetSimulator,
  simulatorHits,
  startGateway,
  startSimulators,
  type BenchSettings,
  type Gateway,
  type SimulatedProvider,
} from './stack.js';
import { formatSpread, percentile, round, spread } from './stats.js';

export interface BudgetOptions {
  watched: number;
  /** Every status call of the provider takes this long. */
  latencyMs: number;
  /** Client lookups per second while measuring, and for how long. */
  lookupsPerSecond: number;
  seconds: number;
  /** The provider's budget on the gateway (its default). */
  budget: number;
}

export interface LookupSample {
  count: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BudgetRun {
  none: LookupSample;
  watched: LookupSample;
  /** Streams the gateway held while the lookups were measured. */
  held: number;
  /** Upstream calls per second to the provider while they were measured (lookups included). */
  upstreamPerSecond: number;
  /**
   * `poll_after_ms` of watched tasks as clients asking for them were told (every 100th):
   * the longest (a task polled in turn, its real cadence) and the median (many not yet
   * polled since their stream opened: their provider's cadence, which their own lookups keep).
   */
  pollAfterMs: { max: number; median: number };
  /** Background polls waiting for their turn, at the end of the measure. */
  queued: number;
  rssMb: number;
  provider: string;
}

export interface BudgetResult {
  options: BudgetOptions;
  provider: string;
  runs: BudgetRun[];
}

/** Client lookups of never-seen tasks at a fixed rate: each one a call to the slow provider. */
async function measureLookups(gateway: Gateway, provider: SimulatedProvider, options: BudgetOptions, label: string): Promise<LookupSample> {
  const pool = new Pool(gateway.url, { connections: 64, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const latencies: number[] = [];
  let failures = 0;
  const pending: Promise<void>[] = [];
  const total = options.lookupsPerSecond * options.seconds;
  const every = 1000 / options.lookupsPerSecond;
  const started = performance.now();
  try {
    for (let index = 0; index < total; index++) {
      await sleep(Math.max(0, started + index * every - performance.now()));
      const sent = performance.now();
      pending.push(
        pool
          .request({ path: `/tasks/${qualifiedId(provider, `${label}-${index}`)}`, method: 'GET' })
          .then(async (response) => {
            await response.body.dump();
            if (response.statusCode === 200) latencies.push(performance.now() - sent);
            else failures++;
          })
          .catch(() => {
            failures++;
          }),
      );
    }
    await Promise.all(pending);
  } finally {
    await pool.close();
  }
  return { count: latencies.length, failures, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: Math.max(...latencies) };
}

async function runBudget(settings: BenchSettings, options: BudgetOptions, run: number): Promise<BudgetRun> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  let streams: Pool | undefined;
  try {
    const provider = simulators.primary;
    // One load generator stands for the clients: its caps must not be what is measured.
    const configFile = { limits: { watchesPerClient: options.watched + 100 }, providers: { [provider.name]: { maxRequestsPerSecond: options.budget } } };
    const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    await resetSimulator(provider);
    await pinTask(provider, '*', { timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
    await injectFault(provider, '*', { kind: 'latency', ms: options.latencyMs });

    const none = await measureLookups(gateway, provider, options, `budget-${run}-none`);
    settings.log(`  budget run ${run + 1}: nothing watched, lookup p50 ${round(none.p50Ms)} p99 ${round(none.p99Ms)} ms (${none.failures} failed)`);

    streams = new Pool(gateway.url, { connections: options.watched + 16, headersTimeout: 120_000, bodyTimeout: 0 });
    const held = streams;
    let opened = 0;
    for (let index = 0; index < options.watched; index += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, options.watched - index) }, async (_, offset) => {
          const response = await held.request({ path: `/tasks/${qualifiedId(provider, `budget-${run}-watch-${index + offset}`)}/events`, method: 'GET' });
          if (response.statusCode !== 200) throw new Error(`stream ${index + offset}: ${response.statusCode} ${await response.body.text()}`);
          response.body.on('data', () => {});
          response.body.on('error', () => {});
          opened++;
        }),
      );
    }
    // Past the streams' first lookups: their poll loops are what runs now.
    await sleep(3000);
    const heldNow = metricSum(await gatewayMetrics(gateway), 'taskgate_active_waiters');
    const hitsBefore = (await simulatorHits(provider)).total;
    const measuredFrom = performance.now();
    const watched = await measureLookups(gateway, provider, options, `budget-${run}-loaded`);
    const upstreamPerSecond = ((await simulatorHits(provider)).total - hitsBefore) / ((performance.now() - measuredFrom) / 1000);
    const metrics = await gatewayMetrics(gateway);
    const queued = metricSum(metrics, 'taskgate_upstream_budget_waiting', `{provider="${provider.name}"}`);
    const told = await Promise.all(
      Array.from({ length: Math.ceil(options.watched / 100) }, async (_, index) => {
        const sampled = await held.request({ path: `/tasks/${qualifiedId(provider, `budget-${run}-watch-${index * 100}`)}`, method: 'GET' });
        return Number(((await sampled.body.json()) as { poll_after_ms?: number }).poll_after_ms);
      }),
    );
    const pollAfterMs = { max: Math.max(...told), median: percentile(told, 0.5) };
    const rssMb = memoryMb(gateway.pid).rss;
    settings.log(
      `  budget run ${run + 1}: ${opened} streams (${heldNow} held), lookup p50 ${round(watched.p50Ms)} p99 ${round(watched.p99Ms)} ms (${watched.failures} failed); ${round(upstreamPerSecond, 1)} upstream calls/s, ${queued} polls queued, poll_after_ms max ${round(pollAfterMs.max)} median ${round(pollAfterMs.median)}; RSS ${round(rssMb)} MB`,
    );
    return { none, watched, held: heldNow, upstreamPerSecond, pollAfterMs, queued, rssMb, provider: provider.name };
  } finally {
    await streams?.destroy();
    for (const stop of stops) await stop();
  }
}

/** A client's lookup may be this much slower while the gateway polls 5,000 tasks. */
const LOOKUP_RATIO_TARGET = 1.2;

function budgetTargets(result: BudgetResult): TargetRow[] {
  const { options } = result;
  const ratio = spread(result.runs.map((run) => run.watched.p99Ms / run.none.p99Ms));
  const loaded = spread(result.runs.map((run) => run.watched.p99Ms));
  const alone = spread(result.runs.map((run) => run.none.p99Ms));
  const calls = spread(result.runs.map((run) => run.upstreamPerSecond));
  const failed = result.runs.reduce((sum, run) => sum + run.watched.failures, 0);
  return [
    {
      target: `client lookup while ${round(options.watched)} watched tasks poll a provider answering in ${options.latencyMs} ms: p99 / the same lookup with none watched`,
      measured: `${formatSpread(ratio, 2, '×')} (p99 ${formatSpread(loaded, 0, ' ms')} vs ${formatSpread(alone, 0, ' ms')}; ${failed} failed)`,
      goal: `≤ ${LOOKUP_RATIO_TARGET}×`,
      met: ratio.median <= LOOKUP_RATIO_TARGET && failed === 0,
    },
    {
      target: `upstream calls per second to that provider meanwhile (its budget: ${options.budget})`,
      measured: formatSpread(calls, 1),
      goal: `≤ ${options.budget}`,
      met: calls.median <= options.budget,
    },
  ];
}

function budgetDetails(result: BudgetResult): string[] {
  const { options } = result;
  const lines = [
    '### Upstream budget',
    '',
    `The ${result.provider} simulator answers every status call in ${options.latencyMs} ms (an injected latency); the gateway keeps its default budget, \`maxRequestsPerSecond\` ${options.budget}. Lookups: ${options.lookupsPerSecond}/s for ${options.seconds} s, each a task never asked for before (one upstream call), first with nothing watched, then while ${round(options.watched)} SSE streams (one task each, one connection each) are held and their poll loops run at the provider's cadence, 3 s after the last stream opened. Upstream calls per second: the simulator's hit counter over the loaded leg, lookups included. \`poll_after_ms\`: what clients asking for every 100th watched task were told, the longest (a task already polled in its turn: the real cadence, ${round(options.watched)} tasks over the background share of the budget) and the median (tasks not yet polled since their stream opened answer their provider's cadence, and a client asking after it gets a lookup of its own).`,
    '',
    '| run | none: p50 / p99 / max ms | watched: p50 / p99 / max ms | streams held | upstream calls/s | polls queued | watched tasks\' `poll_after_ms`: max / median | gateway RSS MB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  result.runs.forEach((run, index) => {
    lines.push(
      `| ${index + 1} | ${round(run.none.p50Ms)} / ${round(run.none.p99Ms)} / ${round(run.none.maxMs)} | ${round(run.watched.p50Ms)} / ${round(run.watched.p99Ms)} / ${round(run.watched.maxMs)} | ${round(run.held)} | ${round(run.upstreamPerSecond, 1)} | ${round(run.queued)} | ${round(run.pollAfterMs.max)} / ${round(run.pollAfterMs.median)} | ${round(run.rssMb)} |`,
    );
  });
  lines.push('');
  return lines;
}

export const budgetScenario = defineScenario<BudgetResult>({
  name: 'budget',
  title: 'upstream budget: a client lookup while 5,000 watched tasks poll a slow provider',
  run: async (settings) => {
    const options: BudgetOptions = settings.quick
      ? { watched: 1000, latencyMs: 500, lookupsPerSecond: 5, seconds: 4, budget: 50 }
      : { watched: 5000, latencyMs: 500, lookupsPerSecond: 5, seconds: 12, budget: 50 };
    const runs: BudgetRun[] = [];
    for (let run = 0; run < (settings.quick ? 1 : 3); run++) runs.push(await runBudget(settings, options, run));
    return { options, provider: runs[0]?.provider ?? 'the primary provider', runs };
  },
  targets: budgetTargets,
  details: budgetDetails,
});
