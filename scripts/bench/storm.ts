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
  simulatorHitTimes,
  startGateway,
  startSimulators,
  type BenchSettings,
  type Gateway,
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
  /** Gateway processes; clients are spread over them round-robin (default 1). */
  replicas?: number;
  /** Fleet mode: the replicas share this Redis. */
  redisUrl?: string;
  /**
   * Clients besides the storm that follow `poll_after_ms` (ask again when the answer says),
   * to measure how soon after the gateway has new data they see it.
   */
  followers?: number;
}

/** What the clients that follow `poll_after_ms` saw. */
export interface FollowersResult {
  followers: number;
  /** Answers that brought a state the follower had not seen (after its first). */
  newStates: number;
  /** From the gateway's upstream call that brought the state to the follower having it, ms. */
  lateness: { p50: number; p99: number; max: number };
  /** Refreshes the gateway made that a follower never saw (it skipped one state). */
  missed: number;
  /** Answers per follower per cadence interval (1 = one ask per refresh, nothing wasted). */
  asksPerCadence: number;
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
  followed?: FollowersResult;
}

const TARGET_PER_CADENCE = 1.1;

interface StormTask {
  provider: SimulatedProvider;
  id: string;
  /** The largest poll_after_ms an answer carried. */
  cadenceMs: number | undefined;
}

export async function runStorm(settings: BenchSettings, options: StormOptions): Promise<StormResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const clients: Client[] = [];
  try {
    const configFile = options.cadenceMs === undefined ? undefined : { providers: everyProvider(simulators, { pollIntervalMs: options.cadenceMs }) };
    const env = options.redisUrl === undefined ? undefined : { REDIS_URL: options.redisUrl, TASKGATE_REDIS_PREFIX: `bench-storm-${Date.now()}:` };
    const gateways: Gateway[] = [];
    for (let replica = 0; replica < (options.replicas ?? 1); replica++) {
      const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags, env });
      stops.unshift(gateway.stop);
      gateways.push(gateway);
    }
    const { providers } = simulators;
    const tasks: StormTask[] = Array.from({ length: options.tasks }, (_, index) => ({
      provider: providers[index % providers.length]!,
      id: providers[index % providers.length]!.sampleId(`storm-${index}`),
      cadenceMs: undefined,
    }));
    await Promise.all(providers.map((provider) => resetSimulator(provider)));
    // Running for the whole storm (and long after): every poll is a non-terminal answer. Its
    // progress moves every 250 ms, so each upstream call brings a state no earlier one had.
    const stepMs = 250;
    const steps = Math.ceil(((options.durationSeconds + 30) * 1000) / stepMs);
    const timeline = Array.from({ length: steps }, (_, step) => ({ atMs: step * stepMs, status: 'in_progress' as const, progress: (step * 98) / steps + 1 }));
    for (const task of tasks) await pinTask(task.provider, task.id, { timeline });

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
    /** Per follower: when each answer came (epoch ms) and the progress it carried. */
    const followed: Array<{ task: StormTask; answers: Array<{ at: number; progress: number | undefined }> }> = [];
    const follower = async (index: number): Promise<void> => {
      const client = new Client(gateways[index % gateways.length]!.url, { keepAliveTimeout: 60_000 });
      clients.push(client);
      const task = tasks[index % tasks.length]!;
      const answers: Array<{ at: number; progress: number | undefined }> = [];
      followed.push({ task, answers });
      const path = `/tasks/${qualifiedId(task.provider, task.id)}`;
      await sleep(Math.random() * options.clientIntervalMs);
      while (performance.now() < endAt) {
        let wait = options.clientIntervalMs;
        try {
          const response = await client.request({ path, method: 'GET' });
          const text = await response.body.text();
          if (response.statusCode === 200) {
            const body = JSON.parse(text) as { poll_after_ms?: unknown; progress?: unknown };
            answers.push({ at: Date.now(), progress: typeof body.progress === 'number' ? body.progress : undefined });
            if (typeof body.poll_after_ms === 'number') {
              wait = body.poll_after_ms;
              task.cadenceMs = Math.max(task.cadenceMs ?? 0, body.poll_after_ms);
            }
          }
        } catch {
          failures++;
        }
        await sleep(wait);
      }
    };
    await Promise.all([
      ...Array.from({ length: options.clients }, (_, index) => poller(index)),
      ...Array.from({ length: options.followers ?? 0 }, (_, index) => follower(index)),
    ]);
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
    if (followed.length > 0) result.followed = await followersResult(followed, (task) => simulatorHitTimes(task.provider, task.id), cadenceOf);
    settings.log(
      `  storm (cadence ${describeCadence(result)}, ${gateways.length} replica${gateways.length === 1 ? '' : 's'}${options.redisUrl === undefined ? '' : ' on Redis'}): ${requests} requests, non-200 ${non200}, failures ${failures}, p99 ${result.p99Ms.toFixed(1)} ms; ${result.upstreamCalls} upstream calls = ${result.perCadence.mean.toFixed(2)} per task per cadence interval (max ${result.perCadence.max.toFixed(2)}), ${result.perSecond.mean.toFixed(2)} per task per second`,
    );
    return result;
  } finally {
    await Promise.all(clients.map((client) => client.destroy()));
    for (const stop of stops) await stop();
  }
}

/**
 * For each answer that brought a follower a state it had not seen: how long after the
 * gateway's upstream call that fetched it (the simulator's clock of that call: the latest
 * before the answer) the follower had it; and the refreshes between two of its answers
 * that it never saw.
 */
async function followersResult(
  followed: Array<{ task: StormTask; answers: Array<{ at: number; progress: number | undefined }> }>,
  hitTimes: (task: StormTask) => Promise<number[]>,
  cadenceOf: (task: StormTask) => number,
): Promise<FollowersResult> {
  const timesOf = new Map<StormTask, number[]>();
  for (const { task } of followed) if (!timesOf.has(task)) timesOf.set(task, await hitTimes(task));
  const lateness: number[] = [];
  let missed = 0;
  let answers = 0;
  let cadences = 0;
  for (const { task, answers: seen } of followed) {
    const times = timesOf.get(task)!;
    const latestBefore = (at: number) => {
      let latest: number | undefined;
      for (const time of times) if (time <= at) latest = time;
      return latest;
    };
    answers += Math.max(0, seen.length - 1);
    if (seen.length > 1) cadences += (seen.at(-1)!.at - seen[0]!.at) / cadenceOf(task);
    for (let index = 1; index < seen.length; index++) {
      const previous = seen[index - 1]!;
      const answer = seen[index]!;
      if (answer.progress === previous.progress) continue;
      const fetchedAt = latestBefore(answer.at);
      if (fetchedAt !== undefined) lateness.push(answer.at - fetchedAt);
      // Upstream calls after the previous answer and before the one that brought this state: states never seen.
      missed += Math.max(0, times.filter((time) => time > previous.at && time <= answer.at).length - 1);
    }
  }
  return {
    followers: followed.length,
    newStates: lateness.length,
    lateness: { p50: percentile(lateness, 0.5), p99: percentile(lateness, 0.99), max: lateness.length === 0 ? 0 : Math.max(...lateness) },
    missed,
    asksPerCadence: cadences === 0 ? 0 : answers / cadences,
  };
}

export function describeCadence(storm: StormResult): string {
  const seconds = storm.cadencesMs.map((ms) => `${ms / 1000} s`).join(' / ');
  return storm.cadenceMs === undefined ? `the providers' defaults, ${seconds}` : `${storm.cadenceMs / 1000} s set${storm.cadencesMs.length > 1 || storm.cadencesMs[0] !== storm.cadenceMs ? `, answers said ${seconds}` : ''}`;
}

const TARGET_LATENESS_MS = 100;

/** The summary row of the followers of a storm (undefined when it had none). */
export function followersTarget(storm: StormResult, where: string): TargetRow | undefined {
  const { followed } = storm;
  if (followed === undefined) return undefined;
  return {
    target: `${where}: ${followed.followers} clients following \`poll_after_ms\` (cadence ${describeCadence(storm)}): from the gateway having a new state to the client having it, p99`,
    measured: `${round(followed.lateness.p99)} ms (p50 ${round(followed.lateness.p50)}, max ${round(followed.lateness.max)}; ${round(followed.newStates)} new states seen, ${followed.missed} refreshes missed; ${followed.asksPerCadence.toFixed(2)} asks per cadence interval)`,
    goal: `≤ ${TARGET_LATENESS_MS} ms`,
    met: followed.lateness.p99 <= TARGET_LATENESS_MS,
  };
}

function stormTargets(storms: StormResult[]): TargetRow[] {
  return storms.flatMap((storm) => {
    const rows: TargetRow[] = [
      {
        target: `polling storm: ${round(storm.clients)} clients, ${storm.tasks} running tasks, each polled every ${storm.clientIntervalMs / 1000} s for ${storm.durationSeconds} s; cadence ${describeCadence(storm)}: upstream calls per task per cadence interval`,
        measured: `${storm.perCadence.mean.toFixed(2)} (max ${storm.perCadence.max.toFixed(2)}; ${storm.perSecond.mean.toFixed(2)} per task per second)`,
        goal: `≤ ${TARGET_PER_CADENCE}`,
        met: storm.perCadence.mean <= TARGET_PER_CADENCE,
      },
    ];
    const followers = followersTarget(storm, 'polling storm');
    if (followers !== undefined) rows.push(followers);
    return rows;
  });
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
  const followed = storms.filter((storm) => storm.followed !== undefined);
  if (followed.length > 0) {
    lines.push(
      "Besides the storm, clients that each ask for one of the tasks again exactly when the answer's `poll_after_ms` says (its first ask at a random moment). The tasks' progress moves every 250 ms, so every upstream call brings a new state; for each answer with a state the client had not seen, the delay is from the gateway's upstream call that fetched it (the simulator's clock of that call, `GET /__sim/hits/{id}`: the latest before the answer) to the answer reaching the client. A missed refresh is an upstream call between two of a client's answers whose state it never saw.",
      '',
      '| provider cadence | followers | new states seen | delay p50 / p99 / max ms | refreshes missed | asks per cadence interval |',
      '|---|---|---|---|---|---|',
      ...followed.map(({ followed: result, ...storm }) => {
        const f = result!;
        return `| ${describeCadence(storm)} | ${f.followers} | ${round(f.newStates)} | ${round(f.lateness.p50)} / ${round(f.lateness.p99)} / ${round(f.lateness.max)} | ${f.missed} | ${f.asksPerCadence.toFixed(2)} |`;
      }),
      '',
    );
  }
  return lines;
}

export const stormScenario = defineScenario<StormResult[]>({
  name: 'storm',
  title: 'polling storm',
  run: async (settings) => {
    const storm = settings.quick
      ? { clients: 200, tasks: 20, durationSeconds: 8, clientIntervalMs: 1000, followers: 20 }
      : { clients: 1000, tasks: 100, durationSeconds: 30, clientIntervalMs: 1000, followers: 100 };
    // With a 1-s cadence the gateway may ask once per interval; with the defaults (5 s for
    // most providers) reuse until the cadence has passed is what keeps it at one per interval.
    return [await runStorm(settings, { ...storm, cadenceMs: 1000 }), await runStorm(settings, { ...storm, cadenceMs: undefined })];
  },
  targets: stormTargets,
  details: stormDetails,
});
