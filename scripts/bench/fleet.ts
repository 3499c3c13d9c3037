/**
 * Scenario "fleet" (issue 11): replicas of the production entry sharing one redis-server.
 * - the polling storm over 3 replicas (storm.ts with `replicas: 3` and a REDIS_URL);
 * - the cached-task throughput of one replica in fleet mode against the same replica
 *   without Redis, in the same run (a local-layer hit must cost no Redis round trip);
 * - 10,000 long-poll waiters spread over 3 replicas: Redis subscriptions per replica are
 *   the distinct tasks it holds waiters for, not its clients, and one replica polls each task.
 */
import { Redis } from 'ioredis';
import { Pool, request } from 'undici';
import { startLocalRedis, type LocalRedis } from '../local-fleet.js';
import { runLoad } from './load.js';
import { sleep } from './processes.js';
import { CACHED_CONNECTIONS } from './cached.js';
import { inBatches, pinTask, resetSimulator, rotate, simulatorHits, startGateway, startSimulators, TERMINAL_TASK_ID, type BenchSettings, type Gateway } from './stack.js';
import { spread, type Spread } from './stats.js';
import { runStorm, type StormOptions, type StormResult } from './storm.js';

export interface FleetCachedResult {
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
  /** Upstream calls per task per cadence interval while the waiters were held. */
  callsPerTaskPerCadence: number;
  cadenceMs: number;
  holdSeconds: number;
  failures: number;
}

export type FleetResult =
  | { skipped: string }
  | { storm: StormResult; cached: FleetCachedResult; waiters: FleetWaitersResult };

/** The sum of a metric's samples (those with exactly `labels`, when given) in Prometheus text. */
function sample(metrics: string, name: string, labels?: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    const matches = labels === undefined ? line.startsWith(`${name} `) || line.startsWith(`${name}{`) : line.startsWith(`${name}${labels} `);
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

async function metricsOf(gateway: Gateway): Promise<string> {
  const response = await request(`${gateway.url}/metrics`);
  return response.body.text();
}

async function runFleetCached(settings: BenchSettings, redis: LocalRedis): Promise<FleetCachedResult> {
  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  try {
    const single = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags });
    stops.unshift(single.stop);
    const fleet = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags, env: { REDIS_URL: redis.url, TASKGATE_REDIS_PREFIX: 'bench-cached:' } });
    stops.unshift(fleet.stop);
    const path = `/tasks/${TERMINAL_TASK_ID}`;
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
      const gateway = await startGateway({ mode: settings.mode, simulators, nodeFlags: settings.gatewayNodeFlags, env: { REDIS_URL: redis.url, TASKGATE_REDIS_PREFIX: prefix } });
      stops.unshift(gateway.stop);
      gateways.push(gateway);
    }
    await Promise.all([resetSimulator(simulators.vtrix), resetSimulator(simulators.gravitex)]);
    const tasks = Array.from({ length: plan.tasks }, (_, index) =>
      index % 2 === 0
        ? { base: simulators.vtrix, id: `fl${index.toString(32).padStart(18, '0')}` }
        : { base: simulators.gravitex, id: `video_fleetwait${index.toString(16)}` },
    );
    // Running for longer than the scenario: every waiter is held until the pools are closed.
    await inBatches(tasks, 32, (task) => pinTask(task.base, task.id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] }));
    for (const gateway of gateways) {
      // One connection per waiter: rounds of the tasks do not divide evenly over the replicas.
      pools.push(new Pool(gateway.url, { connections: plan.waiters, headersTimeout: 120_000, bodyTimeout: 120_000 }));
    }
    let failures = 0;
    const pending: Promise<void>[] = [];
    const held = async () => (await Promise.all(gateways.map(metricsOf))).reduce((sum, text) => sum + sample(text, 'taskgate_active_waiters'), 0);
    const batch = Math.max(1, Math.round(plan.rampPerSecond / 20));
    // Waiter i asks for task i mod tasks, each round of the tasks on the next replica: every replica holds waiters of every task.
    for (let opened = 0; opened < plan.waiters; ) {
      for (const end = Math.min(plan.waiters, opened + batch); opened < end; opened++) {
        const task = tasks[opened % tasks.length]!;
        pending.push(
          pools[Math.floor(opened / tasks.length) % plan.replicas]!.request({ path: `/tasks/${task.id}?wait=60`, method: 'GET' }).then(
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

    const hitsBefore = await Promise.all([simulatorHits(simulators.vtrix), simulatorHits(simulators.gravitex)]);
    const holdStarted = Date.now();
    await sleep(plan.holdSeconds * 1000);
    const hitsAfter = await Promise.all([simulatorHits(simulators.vtrix), simulatorHits(simulators.gravitex)]);
    const heldForMs = Date.now() - holdStarted;
    const calls = hitsAfter[0].total + hitsAfter[1].total - hitsBefore[0].total - hitsBefore[1].total;
    const cadenceMs = 5000;

    const perReplica = await Promise.all(
      gateways.map(async (gateway) => {
        const text = await metricsOf(gateway);
        return {
          subscriptions: sample(text, 'taskgate_redis_subscriptions'),
          tasks: sample(text, 'taskgate_active_poll_loops'),
          pollLeases: sample(text, 'taskgate_fleet_leases_held', '{kind="poll"}'),
          waiters: sample(text, 'taskgate_active_waiters'),
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
      callsPerTaskPerCadence: calls / plan.tasks / (heldForMs / cadenceMs),
      cadenceMs,
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

export async function runFleet(settings: BenchSettings, storm: Omit<StormOptions, 'cadenceMs' | 'replicas' | 'redisUrl'>): Promise<FleetResult> {
  let redis: LocalRedis;
  try {
    redis = await startLocalRedis();
  } catch (error) {
    settings.log(`  fleet: skipped (${(error as Error).message})`);
    return { skipped: (error as Error).message };
  }
  try {
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
