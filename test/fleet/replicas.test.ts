/**
 * Fleet mode with real processes: three gateway processes of the production
 * entry on one redis-server and the simulators behave like one gateway towards the
 * providers. The simulators' hit counters are the evidence; the replicas' /metrics and
 * logs show the fleet's own state. Runs in the order written: the last tests kill a
 * replica and stop Redis.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BatchResultSchema } from '../../schemas/batch.js';
import { TaskSchema } from '../../schemas/task.js';
import { ask, metricsOf, startFleet, type Answer, type Fleet } from '../helpers/fleet.js';
import { adminClient, keysUnder } from '../helpers/redis.js';
import { metricValue, waitFor, type GatewayProcess } from '../hardening/support.js';

const CADENCE_MS = 600;
const RATE_LIMIT = 60;
/** One client key per test client, so no test's traffic spends another's rate-limit bucket. */
const KEYS = Array.from({ length: 40 }, (_, index) => `fleet-client-key-${index}`);
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

const cleanups: Array<() => Promise<void> | void> = [];
let fleet: Fleet;

before(async () => {
  fleet = await startFleet(
    { after: (cleanup) => cleanups.unshift(cleanup) },
    {
      replicas: 3,
      env: { TASKGATE_RATE_LIMIT: String(RATE_LIMIT), TASKGATE_API_KEYS: KEYS.join(','), LOG_LEVEL: 'info' },
      configFile: {
        providers: { vtrix: { pollIntervalMs: CADENCE_MS }, gravitex: { pollIntervalMs: CADENCE_MS } },
        cache: { notFoundMs: 2000 },
      },
    },
  );
});
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

function as(keyIndex: number): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${KEYS[keyIndex]}` } };
}

function liveReplicas(): GatewayProcess[] {
  return fleet.replicas.filter((candidate) => candidate.child.exitCode === null && candidate.child.signalCode === null);
}

/** Replica `index % 3`, as a round-robin balancer would pick. */
function replica(index: number): GatewayProcess {
  const live = liveReplicas();
  return live[index % live.length]!;
}

async function metric(target: GatewayProcess, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return metricValue(await metricsOf(target), name, labels);
}

function status(answer: Answer): string {
  assert.equal(answer.statusCode, 200, answer.body);
  return TaskSchema.parse(JSON.parse(answer.body)).status;
}

test('a terminal task is fetched from its provider once, fleet-wide', async () => {
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  for (let round = 0; round < 9; round++) assert.equal(status(await ask(replica(round), `/tasks/${id}`, as(0))), 'succeeded');
  assert.equal(fleet.simulators.gravitex.hits(id), 1);
});

test('30 concurrent requests spread over the replicas make one upstream call', async () => {
  const { vtrix } = fleet.simulators;
  vtrix.setTask('task_fleet_once', { variant: 'model', timeline: RUNNING });
  vtrix.injectFault('task_fleet_once', { kind: 'latency', ms: 300 });
  const answers = await Promise.all(Array.from({ length: 30 }, (_, index) => ask(replica(index), '/tasks/vtrix:task_fleet_once', as(1 + (index % 3)))));
  for (const answer of answers) assert.equal(status(answer), 'in_progress');
  assert.equal(vtrix.hits('task_fleet_once'), 1);
});

test('an unknown id costs one call per candidate per window, fleet-wide, by GET and by batch', async () => {
  const { vtrix, gravitex } = fleet.simulators;
  const id = 'task_missing_fleet01';
  const gets = await Promise.all(Array.from({ length: 12 }, (_, index) => ask(replica(index), `/tasks/${id}`, as(4))));
  for (const answer of gets) assert.equal(answer.statusCode, 404, answer.body);
  const ids = Array.from({ length: 20 }, (_, index) => `task_missing_fleet_batch${index}`);
  for (let round = 0; round < 3; round++) {
    const answer = await ask(replica(round), '/tasks/batch', {
      method: 'POST',
      headers: { ...as(5).headers, 'content-type': 'application/json' },
      body: JSON.stringify({ ids }),
    });
    const { results } = BatchResultSchema.parse(JSON.parse(answer.body));
    assert.equal(results.length, ids.length);
    assert.ok(results.every((item) => !item.ok && item.problem.code === 'task_not_found'));
  }
  assert.equal(vtrix.hits(id), 1);
  assert.equal(gravitex.hits(id), 1);
  for (const batchId of ids) {
    assert.deepEqual([vtrix.hits(batchId), gravitex.hits(batchId)], [1, 1], `${batchId}: each candidate asked once`);
  }
});

test('the ambiguity memo is shared: other replicas go straight to the provider that has the task', async () => {
  const { vtrix, gravitex } = fleet.simulators;
  const id = 'task_fleetmemo00000000000000000000000';
  gravitex.setTask(id, { variant: 'wrapped', timeline: RUNNING });
  assert.equal(JSON.parse((await ask(replica(0), `/tasks/${id}`, as(6))).body).provider, 'gravitex');
  assert.equal(vtrix.hits(id), 1, 'the first lookup probed both');
  // Past the not-found window (2 s) only the memo can keep a replica from asking vtrix again.
  await sleep(2100);
  for (const index of [1, 2, 1, 2]) assert.equal(JSON.parse((await ask(replica(index), `/tasks/${id}`, as(6))).body).provider, 'gravitex');
  assert.equal(vtrix.hits(id), 1);
});

test('a polling storm over 3 replicas costs at most 1.1 upstream calls per task per cadence interval', async () => {
  const { vtrix, gravitex } = fleet.simulators;
  const tasks = [0, 1, 2, 3, 4, 5].map((index) =>
    index % 2 === 0 ? { simulator: vtrix, id: `stormfleet${String(index).padStart(10, '0')}` } : { simulator: gravitex, id: `video_stormfleet${index}` },
  );
  for (const task of tasks) task.simulator.setTask(task.id, { timeline: RUNNING });
  const durationMs = CADENCE_MS * 6;
  const started = Date.now();
  // 18 clients, 6 per replica, each asking for one task every 100 ms.
  await Promise.all(
    Array.from({ length: 18 }, async (_, client) => {
      const task = tasks[client % tasks.length]!;
      let next = started + Math.random() * 100;
      while (next < started + durationMs) {
        await sleep(Math.max(0, next - Date.now()));
        assert.equal(status(await ask(replica(client), `/tasks/${task.id}`, as(7 + client))), 'in_progress');
        next += 100;
      }
    }),
  );
  const intervals = (Date.now() - started) / CADENCE_MS;
  for (const task of tasks) {
    const calls = task.simulator.hits(task.id);
    // The first call opens the first interval; one process per replica would make about three times these.
    assert.ok((calls - 1) / intervals <= 1.1, `${task.id}: ${calls} upstream calls in ${intervals.toFixed(1)} cadence intervals`);
  }
});

test('waiters of one task on 3 replicas: one poll loop fleet-wide, one Redis subscription per replica', async () => {
  const { vtrix } = fleet.simulators;
  const admin = adminClient({ after: (cleanup) => cleanups.unshift(cleanup) }, fleet.redis.url);
  vtrix.setTask('task_fleet_wait', { variant: 'model', timeline: [...RUNNING, { atMs: CADENCE_MS * 4, status: 'succeeded' }] });
  // A fresh "not found" entry (the earlier ones expired with their 2-s window).
  assert.equal((await ask(replica(0), '/tasks/task_missing_fleet02', as(25))).statusCode, 404);
  const started = Date.now();
  const waiters = Array.from({ length: 12 }, (_, index) => ask(replica(index), '/tasks/vtrix:task_fleet_wait?wait=30', as(25)));
  await sleep(CADENCE_MS * 2);
  const leases = await Promise.all(fleet.replicas.map((target) => metric(target, 'taskgate_fleet_leases_held', { kind: 'poll' })));
  assert.deepEqual(leases.sort(), [0, 0, 1], 'exactly one replica polls');
  for (const target of fleet.replicas) {
    assert.equal(await metric(target, 'taskgate_redis_subscriptions'), 1);
    assert.equal(await metric(target, 'taskgate_active_waiters', { kind: 'wait' }), 4);
  }
  // Every key any replica wrote (caches, memo, leases, rate-limit counters) is under the prefix and expires.
  // A running task's fresh entry lives one cadence and the next poll writes the next one a
  // moment after it expired: the kinds are looked for over one cadence of scans, not one.
  const kinds = ['cache:terminal:', 'cache:fresh:', 'cache:not-found:', 'cache:route:', 'lease:leader:', 'rate-limit:'];
  const seen = new Set<string>();
  let keys: string[] = [];
  for (const until = Date.now() + CADENCE_MS; seen.size < kinds.length && Date.now() < until; await sleep(50)) {
    keys = await keysUnder(admin, fleet.prefix);
    for (const kind of kinds) if (keys.some((key) => key.startsWith(fleet.prefix + kind))) seen.add(kind);
  }
  assert.deepEqual(kinds.filter((kind) => !seen.has(kind)), [], 'kinds of key never seen');
  assert.equal(await admin.dbsize(), keys.length, 'a key outside the prefix');
  const ttls = await Promise.all(keys.map((key) => admin.pttl(key)));
  // -1: no expiry; -2 would only mean it expired since the SCAN.
  assert.deepEqual(keys.filter((_, index) => ttls[index] === -1), [], 'keys without a TTL');

  for (const answer of await Promise.all(waiters)) assert.equal(status(answer), 'succeeded');
  const elapsed = Date.now() - started;
  const calls = vtrix.hits('task_fleet_wait');
  assert.ok(calls <= Math.ceil(elapsed / CADENCE_MS) + 1, `${calls} upstream calls in ${elapsed} ms: more than one poll loop`);
});

test('the rate limit is counted fleet-wide', async () => {
  const id = '/tasks/video_69095b4ce0048190893a01510c0c98b0';
  const remaining: number[] = [];
  for (let index = 0; index < RATE_LIMIT; index++) {
    const answer = await ask(replica(index), id, as(30));
    assert.equal(answer.statusCode, 200, answer.body);
    remaining.push(Number(answer.headers['x-ratelimit-remaining']));
  }
  assert.deepEqual(remaining, Array.from({ length: RATE_LIMIT }, (_, index) => RATE_LIMIT - 1 - index));
  for (const index of [0, 1, 2]) assert.equal((await ask(replica(index), id, as(30))).statusCode, 429);
  assert.equal((await ask(replica(0), id, as(31))).statusCode, 200, 'another key has its own bucket');
});

test('kill -9 of the replica polling a task: the waiters on the others still get its terminal state', async () => {
  const { vtrix } = fleet.simulators;
  vtrix.setTask('task_fleet_takeover', { variant: 'model', timeline: [...RUNNING, { atMs: CADENCE_MS * 5, status: 'succeeded' }] });
  const waiters = fleet.replicas.map((target, index) =>
    ask(target, '/tasks/vtrix:task_fleet_takeover?wait=30', as(32)).then(
      (answer) => ({ index, answer }),
      (error: unknown) => ({ index, error }),
    ),
  );
  let holder: GatewayProcess | undefined;
  await waitFor(
    async () => {
      for (const target of fleet.replicas) if ((await metric(target, 'taskgate_fleet_leases_held', { kind: 'poll' })) === 1) holder = target;
      return holder;
    },
    (found) => found !== undefined,
    CADENCE_MS * 4,
  );
  assert.ok(holder !== undefined, 'nobody holds the poll lease');
  holder.child.kill('SIGKILL');
  await holder.exited;
  const killedAt = Date.now();
  const outcomes = await Promise.all(waiters);
  for (const outcome of outcomes) {
    if (fleet.replicas[outcome.index] === holder) continue;
    assert.ok('answer' in outcome, `waiter on replica ${outcome.index} failed`);
    assert.equal(status(outcome.answer), 'succeeded');
  }
  assert.ok(Date.now() - killedAt < CADENCE_MS * 5 + 4000, 'the survivors took over the polling');
  await fleet.addReplica();
});

/** The replicas' `taskgate_redis_up`, once each has noticed. */
async function redisUpEverywhere(expected: 0 | 1, timeoutMs: number): Promise<number[]> {
  return waitFor(
    () => Promise.all(liveReplicas().map((target) => metric(target, 'taskgate_redis_up').then((value) => value ?? -1))),
    (values) => values.every((value) => value === expected),
    timeoutMs,
  );
}

/** Requests keep being answered: a cached task, a new task (goes upstream), readiness. */
async function stillAnswering(tag: string): Promise<void> {
  fleet.simulators.vtrix.setTask(`task_fleet_${tag}`, { variant: 'model', timeline: RUNNING });
  for (let index = 0; index < 6; index++) {
    const sent = Date.now();
    assert.equal(status(await ask(replica(index), '/tasks/video_69095b4ce0048190893a01510c0c98b0', as(33 + (index % 3)))), 'succeeded');
    assert.equal(status(await ask(replica(index), `/tasks/vtrix:task_fleet_${tag}`, as(36 + (index % 3)))), 'in_progress');
    assert.equal((await ask(replica(index), '/readyz')).statusCode, 200, 'a replica without Redis stays ready');
    assert.ok(Date.now() - sent < 1500, `${tag}: answers took ${Date.now() - sent} ms`);
  }
}

test('Redis stopped (SIGSTOP) then resumed, killed then restarted: answers keep coming, taskgate_redis_up goes 0 then 1, each change logged once', async () => {
  assert.deepEqual(await redisUpEverywhere(1, 2000), [1, 1, 1]);
  fleet.redis.pause();
  try {
    await stillAnswering('paused');
    assert.deepEqual(await redisUpEverywhere(0, 3000), [0, 0, 0]);
  } finally {
    fleet.redis.resume();
  }
  assert.deepEqual(await redisUpEverywhere(1, 5000), [1, 1, 1]);
  await stillAnswering('resumed');

  await fleet.redis.kill();
  await stillAnswering('killed');
  assert.deepEqual(await redisUpEverywhere(0, 3000), [0, 0, 0]);
  await fleet.redis.restart();
  assert.deepEqual(await redisUpEverywhere(1, 5000), [1, 1, 1]);
  await stillAnswering('restarted');

  for (const target of liveReplicas()) {
    const transitions = target.stdout().filter((line) => /Redis is (unavailable|back)/.test(line)).map((line) => (JSON.parse(line) as { msg: string }).msg);
    const changes = transitions.map((message) => (message.includes('unavailable') ? 'down' : 'up'));
    // Each change logged once: down and up alternate (a starved 2-core machine may add a real blip of its own).
    assert.ok(changes.length >= 4 && changes.every((change, index) => change === (index % 2 === 0 ? 'down' : 'up')), `logged changes: ${changes.join(', ')}`);
  }
});
