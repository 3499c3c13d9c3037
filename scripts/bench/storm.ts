/**
 * Scenario "polling storm": 1,000 clients (one keep-alive connection each) polling 100
 * running tasks once a second, spread over every provider of the registry; the
 * simulators' hit counters say how many upstream calls each task cost per cadence
 * interval. Run twice: with a 1-s cadence set for every provider (TASKGATE_CONFIG), and
 * with the providers' default cadences.
 */
import { Client } from 'undici';
import { sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import {
  everyProvider,
  pinTask,
  qualifiedId,
  resetSimulator,
  simulatorHits,
  startGateway,
  startSimulators,
  type BenchSettings,
  type SimulatedProvider,
} from './stack.js';
import { median, percentile, round } from './stats.js';

export interface StormOptions {
  clients: number;
  tasks: number;
  durationSeconds: number;
  clientIntervalMs: number;
  /** The cadence configured for every provider on the gateway; undefined = each provider's default. */
  cadenceMs: number | undefined;
}

export interface StormResult extends StormOptions {
  /**
   * The cadences in force, as the gateway's answers said (the largest `poll_after_ms` seen
   * per task: an answer's own hint, e.g. a response header, beats the configured cadence).
   */
  cadencesMs: number[];
  requests: number;
  non200: number;
  failures: number;
  p99Ms: number;
  upstreamCalls: number;
  /** Over the tasks: upstream calls per task per its cadence interval (mean, median, max). */
  perCadence: { mean: number; median: number; max: number };
  /** Upstream calls per task per second. */
  perSecond: { mean: number; max: number };
}

const TARGET_PER_CADENCE = 1.1;

interface StormTask {
  provider: SimulatedProvider;
  id: string;
  /** The largest poll_after_ms an answer carried. */
  cadenceMs: number | undefined;
}

async function runStorm(settings: BenchSettings, options: StormOptions): Promise<StormResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const clients: Client[] = [];
  try {
    const configFile = options.cadenceMs === undefined ? undefined : { providers: everyProvider(simulators, { pollIntervalMs: options.cadenceMs }) };
    const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(gateway.stop);
    const { providers } = simulators;
    const tasks: StormTask[] = Array.from({ length: options.tasks }, (_, index) => ({
      provider: providers[index % providers.length]!,
      id: `storm-${index}`,
      cadenceMs: undefined,
    }));
    await Promise.all(providers.map((provider) => resetSimulator(provider)));
    for (const task of tasks) {
      // Running for the whole storm (and long after): every poll is a non-terminal answer.
      await pinTask(task.provider, task.id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
    }

    const latencies: number[] = [];
    let requests = 0;
    let non200 = 0;
    let failures = 0;
    const started = performance.now();
    const endAt = started + options.durationSeconds * 1000;
    const poller = async (index: number): Promise<void> => {
      const client = new Client(gateway.url, { keepAliveTimeout: 60_000 });
      clients.push(client);
      const task = tasks[index % tasks.length]!;
      const path = `/tasks/${qualifiedId(task.provider, task.id)}`;
      // Each client keeps its own phase, like independent browsers.
      let next = started + Math.random() * options.clientIntervalMs;
      while (next < endAt) {
        await sleep(Math.max(0, next - performance.now()));
        const sent = performance.now();
        try {
          const response = await client.request({ path, method: 'GET' });
          const text = await response.body.text();
          if (response.statusCode !== 200) non200++;
          else {
            const pollAfter = (JSON.parse(text) as { poll_after_ms?: unknown }).poll_after_ms;
            if (typeof pollAfter === 'number') task.cadenceMs = Math.max(task.cadenceMs ?? 0, pollAfter);
          }
        } catch {
          failures++;
        }
        latencies.push(performance.now() - sent);
        requests++;
        next += options.clientIntervalMs;
      }
    };
    await Promise.all(Array.from({ length: options.clients }, (_, index) => poller(index)));
    const elapsedSeconds = (performance.now() - started) / 1000;

    const hits = new Map(await Promise.all(providers.map(async (provider) => [provider.name, await simulatorHits(provider)] as const)));
    const callsPerTask = tasks.map((task) => hits.get(task.provider.name)!.byId[task.id] ?? 0);
    const cadenceOf = (task: StormTask) => task.cadenceMs ?? options.cadenceMs ?? task.provider.defaultCadenceMs;
    const perCadence = tasks.map((task, index) => callsPerTask[index]! / ((elapsedSeconds * 1000) / cadenceOf(task)));
    const perSecond = callsPerTask.map((calls) => calls / elapsedSeconds);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const result: StormResult = {
      ...options,
      cadencesMs: [...new Set(tasks.map(cadenceOf))].sort((left, right) => right - left),
      requests,
      non200,
      failures,
      p99Ms: percentile(latencies, 0.99),
      upstreamCalls: callsPerTask.reduce((sum, calls) => sum + calls, 0),
      perCadence: { mean: mean(perCadence), median: median(perCadence), max: Math.max(...perCadence) },
      perSecond: { mean: mean(perSecond), max: Math.max(...perSecond) },
    };
    settings.log(
      `  storm (cadence ${describeCadence(result)}): ${requests} requests, non-200 ${non200}, failures ${failures}, p99 ${result.p99Ms.toFixed(1)} ms; ${result.upstreamCalls} upstream calls = ${result.perCadence.mean.toFixed(2)} per task per cadence interval (max ${result.perCadence.max.toFixed(2)}), ${result.perSecond.mean.toFixed(2)} per task per second`,
    );
    return result;
  } finally {
    await Promise.all(clients.map((client) => client.destroy()));
    for (const stop of stops) await stop();
  }
}

function describeCadence(storm: StormResult): string {
  const seconds = storm.cadencesMs.map((ms) => `${ms / 1000} s`).join(' / ');
  return storm.cadenceMs === undefined ? `the providers' defaults, ${seconds}` : `${storm.cadenceMs / 1000} s set${storm.cadencesMs.length > 1 || storm.cadencesMs[0] !== storm.cadenceMs ? `, answers said ${seconds}` : ''}`;
}

function stormTargets(storms: StormResult[]): TargetRow[] {
  return storms.map((storm) => ({
    target: `polling storm: ${round(storm.clients)} clients, ${storm.tasks} running tasks, each polled every ${storm.clientIntervalMs / 1000} s for ${storm.durationSeconds} s; cadence ${describeCadence(storm)}: upstream calls per task per cadence interval`,
    measured: `${storm.perCadence.mean.toFixed(2)} (max ${storm.perCadence.max.toFixed(2)}; ${storm.perSecond.mean.toFixed(2)} per task per second)`,
    goal: `≤ ${TARGET_PER_CADENCE}`,
    met: storm.perCadence.mean <= TARGET_PER_CADENCE,
  }));
}

function stormDetails(storms: StormResult[]): string[] {
  const lines = [
    '### Polling storm',
    '',
    "Each client has its own keep-alive connection and its own phase, and asks for one of the running tasks every second (client `i` → task `i mod tasks`; the tasks spread evenly over the registry's providers, pinned there and asked for by qualified id). Upstream calls are the simulators' hit counters (`GET /__sim/hits`) per task; a task's cadence interval is the largest `poll_after_ms` the gateway answered for it.",
    '',
    '| provider cadence | gateway requests | non-200 / failed | client p99 ms | upstream calls | per task per cadence interval (mean / median / max) | per task per second |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const storm of storms) {
    lines.push(
      `| ${describeCadence(storm)} | ${round(storm.requests)} | ${storm.non200} / ${storm.failures} | ${storm.p99Ms.toFixed(1)} | ${round(storm.upstreamCalls)} | ${storm.perCadence.mean.toFixed(2)} / ${storm.perCadence.median.toFixed(2)} / ${storm.perCadence.max.toFixed(2)} | ${storm.perSecond.mean.toFixed(2)} |`,
    );
  }
  lines.push('');
  return lines;
}

export const stormScenario = defineScenario<StormResult[]>({
  name: 'storm',
  title: 'polling storm',
  run: async (settings) => {
    const storm = settings.quick
      ? { clients: 200, tasks: 20, durationSeconds: 8, clientIntervalMs: 1000 }
      : { clients: 1000, tasks: 100, durationSeconds: 30, clientIntervalMs: 1000 };
    // With a 1-s cadence the gateway may ask once per interval; with the defaults (5 s for
    // most providers) reuse until the cadence has passed is what keeps it at one per interval.
    return [await runStorm(settings, { ...storm, cadenceMs: 1000 }), await runStorm(settings, { ...storm, cadenceMs: undefined })];
  },
  targets: stormTargets,
  details: stormDetails,
});
