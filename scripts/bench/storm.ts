/**
 * Scenario "polling storm": 1,000 clients (one keep-alive connection each) polling 100
 * running tasks once a second; the simulators' hit counters say how many upstream calls
 * each task cost per cadence interval.
 */
import { Client } from 'undici';
import { sleep } from './processes.js';
import { pinTask, resetSimulator, simulatorHits, startGateway, startSimulators, type BenchSettings, type Gateway } from './stack.js';
import { median, percentile } from './stats.js';

export interface StormOptions {
  clients: number;
  tasks: number;
  durationSeconds: number;
  clientIntervalMs: number;
  /** The provider poll interval (cadence) configured on the gateway; undefined = the default. */
  cadenceMs: number | undefined;
  /** Gateway processes; clients are spread over them round-robin (default 1). */
  replicas?: number;
  /** Fleet mode: the replicas share this Redis. */
  redisUrl?: string;
}

export interface StormResult extends StormOptions {
  /** The cadence in force (the providers' default when not configured). */
  effectiveCadenceMs: number;
  requests: number;
  non200: number;
  failures: number;
  p99Ms: number;
  upstreamCalls: number;
  /** Over the tasks: upstream calls per task per cadence interval (mean, median, max). */
  perCadence: { mean: number; median: number; max: number };
  /** The same per second, for comparison with the ≤ 1 s reuse window. */
  perSecond: { mean: number; max: number };
}

const DEFAULT_CADENCE_MS = 5000;

function stormIds(count: number): Array<{ provider: 'vtrix' | 'gravitex'; id: string }> {
  // Half at each provider: vtrix xids (20 × [0-9a-v]) and gravitex `video_` ids.
  return Array.from({ length: count }, (_, index) =>
    index % 2 === 0
      ? { provider: 'vtrix' as const, id: `st${index.toString(32).padStart(18, '0')}` }
      : { provider: 'gravitex' as const, id: `video_storm${index.toString(16).padStart(8, '0')}` },
  );
}

export async function runStorm(settings: BenchSettings, options: StormOptions): Promise<StormResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const clients: Client[] = [];
  try {
    const configFile =
      options.cadenceMs === undefined
        ? undefined
        : { providers: { vtrix: { pollIntervalMs: options.cadenceMs }, gravitex: { pollIntervalMs: options.cadenceMs } } };
    const env = options.redisUrl === undefined ? undefined : { REDIS_URL: options.redisUrl, TASKGATE_REDIS_PREFIX: `bench-storm-${Date.now()}:` };
    const gateways: Gateway[] = [];
    for (let replica = 0; replica < (options.replicas ?? 1); replica++) {
      const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags, env });
      stops.unshift(gateway.stop);
      gateways.push(gateway);
    }
    const tasks = stormIds(options.tasks);
    await Promise.all([resetSimulator(simulators.vtrix), resetSimulator(simulators.gravitex)]);
    for (const task of tasks) {
      const base = task.provider === 'vtrix' ? simulators.vtrix : simulators.gravitex;
      // Running for the whole storm (and long after): every poll is a non-terminal answer.
      await pinTask(base, task.id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
    }

    const latencies: number[] = [];
    let requests = 0;
    let non200 = 0;
    let failures = 0;
    const started = performance.now();
    const endAt = started + options.durationSeconds * 1000;
    const poller = async (index: number): Promise<void> => {
      // Client i asks replica i mod replicas, as a round-robin balancer with sticky connections would send it.
      const client = new Client(gateways[index % gateways.length]!.url, { keepAliveTimeout: 60_000 });
      clients.push(client);
      const path = `/tasks/${tasks[index % tasks.length]!.id}`;
      // Each client keeps its own phase, like independent browsers.
      let next = started + Math.random() * options.clientIntervalMs;
      while (next < endAt) {
        await sleep(Math.max(0, next - performance.now()));
        const sent = performance.now();
        try {
          const response = await client.request({ path, method: 'GET' });
          await response.body.dump();
          if (response.statusCode !== 200) non200++;
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

    const [vtrixHits, gravitexHits] = await Promise.all([simulatorHits(simulators.vtrix), simulatorHits(simulators.gravitex)]);
    const callsPerTask = tasks.map((task) => (task.provider === 'vtrix' ? vtrixHits : gravitexHits).byId[task.id] ?? 0);
    const cadenceMs = options.cadenceMs ?? DEFAULT_CADENCE_MS;
    const intervals = (elapsedSeconds * 1000) / cadenceMs;
    const perCadence = callsPerTask.map((calls) => calls / intervals);
    const perSecond = callsPerTask.map((calls) => calls / elapsedSeconds);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const result: StormResult = {
      ...options,
      effectiveCadenceMs: cadenceMs,
      requests,
      non200,
      failures,
      p99Ms: percentile(latencies, 0.99),
      upstreamCalls: callsPerTask.reduce((sum, calls) => sum + calls, 0),
      perCadence: { mean: mean(perCadence), median: median(perCadence), max: Math.max(...perCadence) },
      perSecond: { mean: mean(perSecond), max: Math.max(...perSecond) },
    };
    settings.log(
      `  storm (cadence ${cadenceMs} ms, ${gateways.length} replica${gateways.length === 1 ? '' : 's'}${options.redisUrl === undefined ? '' : ' on Redis'}): ${requests} requests, non-200 ${non200}, failures ${failures}, p99 ${result.p99Ms.toFixed(1)} ms; ${result.upstreamCalls} upstream calls = ${result.perCadence.mean.toFixed(2)} per task per cadence interval (max ${result.perCadence.max.toFixed(2)}), ${result.perSecond.mean.toFixed(2)} per task per second`,
    );
    return result;
  } finally {
    await Promise.all(clients.map((client) => client.destroy()));
    for (const stop of stops) await stop();
  }
}
