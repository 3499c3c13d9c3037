/**
 * Scenario "fleet": replicas of the production entry sharing one redis-server.
 * - the polling storm over 3 replicas (storm.ts with `replicas: 3` and a REDIS_URL);
 * - the cached-task throughput of one replica in fleet mode against the same replica
 *   without Redis, in the same run (a local-layer hit must cost no Redis round trip);
 * - 10,000 long-poll waiters spread over 3 replicas: Redis subscriptions per replica are
 *   the distinct tasks it holds waiters for, not its clients, and one replica polls each task.
 */
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { startLocalRedis, type LocalRedis } from '../local-fleet.js';
import { CACHED_CONNECTIONS } from './cached.js';
import { runLoad } from './load.js';
import { sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import {
  gatewayMetrics,
  inBatches,
  metricSum,
  pinTask,
  pinTerminalTask,
  qualifiedId,
  resetSimulator,
  rotate,
  simulatorHits,
  startGateway,
  startSimulators,
  type BenchSettings,
  type Gateway,
  type Simulators,
} from './stack.js';
import { formatSpread, round, spread, type Spread } from './stats.js';
import { describeCadence, followersTarget, runStorm, type StormResult } from './storm.js';

export interface FleetCachedResult {
  path: string;
  rps: { fleet: Spread; single: Spread };
  ratio: Spread;
}

export interface FleetWaitersResult {
  waiters: number;
  tasks: number;
  replicas: number;
  held: number;
  /** Per replica: Redis channels it subscribes, distinct tasks it holds waiters for, poll leases it holds. */
  perReplica: Array<{ subscriptions: number; tasks: number; pollLeases: number; waiters: number }>;
  /** Channels Redis itself reports under the prefix, and subscribers per channel (a sample's min-max). */
  redisChannels: number;
  subscribersPerChannel: { min: number; max: number };
  /** Upstream calls per task per cadence interval (each task's provider's default cadence) while the waiters were held. */
  callsPerTaskPerCadence: number;
  cadencesMs: number[];
  holdSeconds: number;
  failures: number;
}

export type FleetResult =
  | { skipped: string }
  | { storm: StormResult; cached: FleetCachedResult; waiters: FleetWaitersResult };

async function runFleetCached(settings: BenchSettings, redis: LocalRedis): Promise<FleetCachedResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  try {
    const single = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(single.stop);
    const fleet = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags, env: { REDIS_URL: redis.url, TASKGATE_REDIS_PREFIX: 'bench-cached:' } });
    stops.unshift(fleet.stop);
    const path = `/tasks/${await pinTerminalTask(simulators)}`;
    const targets = [
      { key: 'single' as const, gateway: single },
      { key: 'fleet' as const, gateway: fleet },
    ];
    const runs: Array<Record<'single' | 'fleet', number>> = [];
    for (let run = 0; run < settings.runs; run++) {
      const results = { single: 0, fleet: 0 };
      for (const { key, gateway } of rotate(targets, run)) {
        const url = `${gateway.url}${path}`;
        await runLoad({ url, connections: CACHED_CONNECTIONS, durationSeconds: settings.warmupSeconds });
        const result = await runLoad({ url, connections: CACHED_CONNECTIONS, durationSeconds: settings.durationSeconds });
        results[key] = result.rps;
        settings.log(`  fleet cached run ${run + 1}/${settings.runs} ${key}: ${Math.round(result.rps)} req/s, non-2xx ${result.non2xx}, errors ${result.errors}`);
      }
      runs.push(results);
    }
    return {
      path,
      rps: { fleet: spread(runs.map((run) => run.fleet)), single: spread(runs.map((run) => run.single)) },
      ratio: spread(runs.map((run) => run.fleet / run.single)),
    };
  } finally {
    for (const stop of stops) await stop();
  }
}

interface WaitersPlan {
  waiters: number;
  tasks: number;
  replicas: number;
  holdSeconds: number;
  rampPerSecond: number;
}

async function runFleetWaiters(settings: BenchSettings, redis: LocalRedis, plan: WaitersPlan): Promise<FleetWaitersResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  const pools: Pool[] = [];
  const prefix = 'bench-waiters:';
  const admin = new Redis(redis.url);
  admin.on('error', () => {});
  try {
    const gateways: Gateway[] = [];
    for (let replica = 0; replica < plan.replicas; replica++) {
      // One load generator stands for many clients: the per-client watch cap would hold it back.
      const configFile = { limits: { watchesPerClient: plan.waiters } };
      const gateway = await startGateway({ mode: settings.mode, simulators, configFile, nodeFlags: settings.gatewayNodeFlags, env: { REDIS_URL: redis.url, TASKGATE_REDIS_PREFIX: prefix } });
      stops.unshift(gateway.stop);
      gateways.push(gateway);
    }
    const { providers } = simulators;
    await Promise.all(providers.map((provider) => resetSimulator(provider)));
    const tasks = Array.from({ length: plan.tasks }, (_, index) => {
      const provider = providers[index % providers.length]!;
      return { provider, id: provider.sampleId(`fleet-wait-${index}`) };
    });
    // Running for longer than the scenario: every waiter is held until the pools are closed.
    await inBatches(tasks, 32, (task) => pinTask(task.provider, task.id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] }));
    for (const gateway of gateways) {
      // One connection per waiter: rounds of the tasks do not divide evenly over the replicas.
      pools.push(new Pool(gateway.url, { connections: plan.waiters, headersTimeout: 120_000, bodyTimeout: 120_000 }));
    }
    let failures = 0;
    const pending: Promise<void>[] = [];
    const held = async () => (await Promise.all(gateways.map(gatewayMetrics))).reduce((sum, text) => sum + metricSum(text, 'taskgate_active_waiters'), 0);
    const batch = Math.max(1, Math.round(plan.rampPerSecond / 20));
    // Waiter i asks for task i mod tasks, each round of the tasks on the next replica: every replica holds waiters of every task.
    for (let opened = 0; opened < plan.waiters; ) {
      for (const end = Math.min(plan.waiters, opened + batch); opened < end; opened++) {
        const task = tasks[opened % tasks.length]!;
        pending.push(
          pools[Math.floor(opened / tasks.length) % plan.replicas]!.request({ path: `/tasks/${qualifiedId(task.provider, task.id)}?wait=60`, method: 'GET' }).then(
            async (response) => {
              await response.body.dump();
              if (response.statusCode !== 200) failures++;
            },
            () => void failures++,
          ),
        );
      }
      await sleep(50);
    }
    const deadline = Date.now() + 30_000;
    let holding = await held();
    while (holding < plan.waiters && Date.now() < deadline) {
      await sleep(250);
      holding = await held();
    }
    settings.log(`  fleet waiters: ${holding} of ${plan.waiters} held over ${plan.replicas} replicas`);

    const hitsBefore = await totalHits(simulators);
    const holdStarted = Date.now();
    await sleep(plan.holdSeconds * 1000);
    const calls = (await totalHits(simulators)) - hitsBefore;
    const heldForMs = Date.now() - holdStarted;
    // The calls one poll loop per task would make at each task's provider's default cadence.
    const expectedCalls = tasks.reduce((sum, task) => sum + heldForMs / task.provider.defaultCadenceMs, 0);

    const perReplica = await Promise.all(
      gateways.map(async (gateway) => {
        const text = await gatewayMetrics(gateway);
        return {
          subscriptions: metricSum(text, 'taskgate_redis_subscriptions'),
          tasks: metricSum(text, 'taskgate_active_poll_loops'),
          pollLeases: metricSum(text, 'taskgate_fleet_leases_held', '{kind="poll"}'),
          waiters: metricSum(text, 'taskgate_active_waiters'),
        };
      }),
    );
    const channels = (await admin.call('PUBSUB', 'CHANNELS', `${prefix}leader:*`)) as string[];
    const counts = channels.length === 0 ? [] : ((await admin.call('PUBSUB', 'NUMSUB', ...channels.slice(0, 100))) as Array<string | number>);
    const subscribers = counts.filter((_, index) => index % 2 === 1).map(Number);
    const result: FleetWaitersResult = {
      waiters: plan.waiters,
      tasks: plan.tasks,
      replicas: plan.replicas,
      held: holding,
      perReplica,
      redisChannels: channels.length,
      subscribersPerChannel: { min: Math.min(...subscribers), max: Math.max(...subscribers) },
      callsPerTaskPerCadence: calls / expectedCalls,
      cadencesMs: [...new Set(providers.map((provider) => provider.defaultCadenceMs))].sort((left, right) => left - right),
      holdSeconds: heldForMs / 1000,
      failures,
    };
    settings.log(
      `  fleet waiters: subscriptions per replica ${perReplica.map((replica) => replica.subscriptions).join(' / ')} for ${perReplica.map((replica) => replica.tasks).join(' / ')} tasks; poll leases ${perReplica.map((replica) => replica.pollLeases).join(' / ')}; Redis channels ${channels.length}; ${result.callsPerTaskPerCadence.toFixed(2)} upstream calls per task per cadence while held`,
    );
    await Promise.all(pools.map((pool) => pool.destroy()));
    await Promise.allSettled(pending);
    return result;
  } finally {
    await Promise.all(pools.map((pool) => pool.destroy()));
    admin.disconnect();
    for (const stop of stops) await stop();
  }
}

async function totalHits(simulators: Simulators): Promise<number> {
  const hits = await Promise.all(simulators.providers.map((provider) => simulatorHits(provider)));
  return hits.reduce((sum, { total }) => sum + total, 0);
}

async function runFleet(settings: BenchSettings): Promise<FleetResult> {
  let redis: LocalRedis;
  try {
    redis = await startLocalRedis();
  } catch (error) {
    settings.log(`  fleet: not measured (${(error as Error).message})`);
    return { skipped: (error as Error).message };
  }
  try {
    const storm = settings.quick
      ? { clients: 200, tasks: 20, durationSeconds: 8, clientIntervalMs: 1000, followers: 21 }
      : { clients: 1000, tasks: 100, durationSeconds: 30, clientIntervalMs: 1000, followers: 99 };
    const stormResult = await runStorm(settings, { ...storm, cadenceMs: undefined, replicas: 3, redisUrl: redis.url });
    const cached = await runFleetCached(settings, redis);
    const waiters = await runFleetWaiters(
      settings,
      redis,
      settings.quick ? { waiters: 1500, tasks: 150, replicas: 3, holdSeconds: 6, rampPerSecond: 2000 } : { waiters: 10_000, tasks: 1000, replicas: 3, holdSeconds: 15, rampPerSecond: 2000 },
    );
    return { storm: stormResult, cached, waiters };
  } finally {
    await redis.stop();
  }
}

const ratio = (value: Spread) => formatSpread(value, 2, '×');

function fleetTargets(fleet: FleetResult): TargetRow[] {
  if ('skipped' in fleet) return [{ target: 'fleet (3 replicas on one Redis)', measured: `not measured: ${fleet.skipped}`, goal: '-', met: undefined }];
  const { storm, cached, waiters } = fleet;
  const distinct = waiters.perReplica.every((replica) => replica.subscriptions === replica.tasks);
  const followers = followersTarget(storm, 'fleet polling storm');
  const rows: TargetRow[] = [
    {
      target: `fleet polling storm: ${round(storm.clients)} clients round-robin over 3 replicas on one Redis, ${storm.tasks} running tasks, every ${storm.clientIntervalMs / 1000} s for ${storm.durationSeconds} s, cadence ${describeCadence(storm)}: upstream calls per task per cadence interval`,
      measured: `${storm.perCadence.mean.toFixed(2)} (max ${storm.perCadence.max.toFixed(2)})`,
      goal: '≤ 1.1',
      met: storm.perCadence.mean <= 1.1,
    },
    ...(followers === undefined ? [] : [followers]),
    {
      target: 'fleet: cached task throughput of one replica with Redis / the same replica without',
      measured: `${ratio(cached.ratio)} (${formatSpread(cached.rps.fleet)} vs ${formatSpread(cached.rps.single)} req/s)`,
      goal: '≥ 0.90×',
      met: cached.ratio.median >= 0.9,
    },
    {
      target: `fleet: ${round(waiters.waiters)} waiters over 3 replicas, ${round(waiters.tasks)} tasks: Redis subscriptions per replica`,
      measured: `${waiters.perReplica.map((replica) => round(replica.subscriptions)).join(' / ')} for ${waiters.perReplica.map((replica) => round(replica.tasks)).join(' / ')} distinct tasks (${waiters.perReplica.map((replica) => round(replica.waiters)).join(' / ')} waiters)`,
      goal: '= distinct tasks per replica',
      met: distinct,
    },
  ];
  return rows;
}

function fleetDetails(fleet: FleetResult): string[] {
  if ('skipped' in fleet) return ['### Fleet (3 replicas on one redis-server)', '', `Not measured: ${fleet.skipped}.`, ''];
  const { storm, cached, waiters } = fleet;
  return [
    '### Fleet (3 replicas on one redis-server)',
    '',
    `Three gateway processes (the same entry, each with \`REDIS_URL\` on one local redis-server, no persistence) and the simulators, each its own process. Storm: client \`i\` keeps one connection to replica \`i mod 3\` and asks for task \`i mod ${storm.tasks}\`, so every task is polled through every replica: ${round(storm.requests)} requests (non-200 ${storm.non200}, failed ${storm.failures}, client p99 ${storm.p99Ms.toFixed(1)} ms), ${round(storm.upstreamCalls)} upstream calls = ${storm.perCadence.mean.toFixed(2)} / ${storm.perCadence.median.toFixed(2)} / ${storm.perCadence.max.toFixed(2)} (mean / median / max) per task per cadence interval (${describeCadence(storm)}), for the whole fleet.`,
    '',
    `Cached task (\`GET ${cached.path}\`, ${CACHED_CONNECTIONS} connections, flat out, alternating in each run): one replica with Redis ${formatSpread(cached.rps.fleet)} req/s, the same without ${formatSpread(cached.rps.single)} req/s; ratio ${ratio(cached.ratio)}. The terminal task is in the replica's local layer, so the answer costs no Redis round trip (with the rate limit on, each request would also count in Redis: the benchmarks run with \`TASKGATE_RATE_LIMIT=0\`).`,
    '',
    `Waiters: ${round(waiters.waiters)} \`?wait=60\` requests (waiter \`i\` asks for task \`i mod ${round(waiters.tasks)}\`, each round of the tasks through the next replica, so every replica holds waiters of every task), ${round(waiters.held)} held at once, ${waiters.failures} failed. Per replica: Redis subscriptions ${waiters.perReplica.map((replica) => round(replica.subscriptions)).join(' / ')}, poll loops (distinct tasks) ${waiters.perReplica.map((replica) => round(replica.tasks)).join(' / ')}, poll leases held ${waiters.perReplica.map((replica) => round(replica.pollLeases)).join(' / ')}. Redis reports ${round(waiters.redisChannels)} poll channels with ${waiters.subscribersPerChannel.min}-${waiters.subscribersPerChannel.max} subscribers each (a sample of 100). Over ${waiters.holdSeconds.toFixed(0)} s of holding, ${waiters.callsPerTaskPerCadence.toFixed(2)} upstream calls per task per cadence interval (the providers' default cadences, ${waiters.cadencesMs.map((ms) => `${ms / 1000} s`).join(' / ')}) for the whole fleet.`,
    '',
  ];
}

export const fleetScenario = defineScenario<FleetResult>({
  name: 'fleet',
  title: 'fleet: 3 replicas on one redis-server',
  run: runFleet,
  targets: fleetTargets,
  details: fleetDetails,
});
