import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AlreadyJoinedError, LeaderLoop, type LeaderMembership } from '../../src/fleet/leader-loop.js';
import type { FleetRedis } from '../../src/fleet/redis.js';
import { adminClient, connectReplicas, keysUnder, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

const INTERVAL_MS = 120;

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

interface Replica {
  redis: FleetRedis;
  loop: LeaderLoop;
  membership: LeaderMembership;
  /** Date.now() of each tick. */
  ticks: number[];
  messages: string[];
}

/** Joins `key` on every replica; a leader publishes `<replica index>:<tick number>` on each tick. */
function joinAll(redisReplicas: FleetRedis[], key: string, t: { after(fn: () => void): void }): Replica[] {
  return redisReplicas.map((redis, index) => {
    const loop = new LeaderLoop(redis);
    t.after(() => loop.close());
    const replica: Replica = { redis, loop, membership: undefined as unknown as LeaderMembership, ticks: [], messages: [] };
    replica.membership = loop.join(key, {
      intervalMs: INTERVAL_MS,
      onTick: () => {
        replica.ticks.push(Date.now());
        replica.membership.publish(`${index}:${replica.ticks.length}`);
      },
      onMessage: (message) => replica.messages.push(message),
    });
    return replica;
  });
}

function tickingSince(replicas: Replica[], since: number): Replica[] {
  return replicas.filter((replica) => replica.ticks.some((at) => at >= since));
}

test('3 joiners: one leader ticks each interval and every joiner gets its messages', async (t) => {
  const redisReplicas = await connectReplicas(t, { url: server.url, prefix: 'tg-leader-one:' }, 3);
  const replicas = joinAll(redisReplicas, 'vtrix:abc', t);
  await sleep(INTERVAL_MS * 5.5);
  const leaders = replicas.filter((replica) => replica.ticks.length > 0);
  assert.equal(leaders.length, 1, `ticks per replica: ${replicas.map((replica) => replica.ticks.length).join(', ')}`);
  const leader = leaders[0]!;
  assert.ok(leader.ticks.length >= 3 && leader.ticks.length <= 6, `${leader.ticks.length} ticks in 5.5 intervals`);
  assert.deepEqual(
    replicas.map((replica) => replica.membership.role).sort(),
    ['follower', 'follower', 'leader'],
  );
  assert.deepEqual(
    replicas.map((replica) => replica.loop.leasesHeld),
    replicas.map((replica) => (replica === leader ? 1 : 0)),
  );
  const published = leader.messages.slice();
  assert.equal(published.length, leader.ticks.length, 'the leader hears its own messages once each');
  assert.ok(await waitFor(() => replicas.every((replica) => replica.messages.length >= published.length)));
  for (const replica of replicas) assert.deepEqual(replica.messages.slice(0, published.length), published);
  assert.ok(redisReplicas.every((redis) => redis.subscriptionCount === 1));
});

test('the leader dies abruptly (connection dropped, lease not released): another leads within two intervals', async (t) => {
  const redisReplicas = await connectReplicas(t, { url: server.url, prefix: 'tg-leader-dies:' }, 3);
  const replicas = joinAll(redisReplicas, 'vtrix:dies', t);
  assert.ok(await waitFor(() => replicas.some((replica) => replica.ticks.length >= 2), INTERVAL_MS * 6));
  const dead = replicas.find((replica) => replica.ticks.length > 0)!;
  // Like kill -9: the socket goes, nothing is released; then its timers stop too.
  dead.redis.close();
  dead.loop.close();
  const diedAt = Date.now();
  const survivors = replicas.filter((replica) => replica !== dead);
  assert.ok(await waitFor(() => tickingSince(survivors, diedAt).length > 0, INTERVAL_MS * 6), 'nobody took over');
  const firstTick = Math.min(...survivors.flatMap((replica) => replica.ticks.filter((at) => at >= diedAt)));
  const takeoverMs = firstTick - diedAt;
  // The lease (two intervals) runs out at the latest two intervals after the death and a
  // follower looks right then; the slack is for timers on a loaded machine.
  assert.ok(takeoverMs <= INTERVAL_MS * 2 + 100, `took over after ${takeoverMs} ms (interval ${INTERVAL_MS} ms)`);

  await sleep(INTERVAL_MS * 4);
  const newLeaders = tickingSince(survivors, diedAt);
  assert.equal(newLeaders.length, 1, 'exactly one new leader');
  const other = survivors.find((replica) => replica !== newLeaders[0])!;
  const fromNewLeader = newLeaders[0]!.messages.filter((message) => message.startsWith(`${replicas.indexOf(newLeaders[0]!)}:`));
  assert.ok(fromNewLeader.length >= 2);
  assert.ok(await waitFor(() => fromNewLeader.every((message) => other.messages.includes(message))));
});

test('a leader that leaves releases its lease: the next one leads within about an interval, and nothing is left behind', async (t) => {
  const redisReplicas = await connectReplicas(t, { url: server.url, prefix: 'tg-leader-leaves:' }, 2);
  const admin = adminClient(t, server.url);
  const replicas = joinAll(redisReplicas, 'vtrix:leaves', t);
  assert.ok(await waitFor(() => replicas.some((replica) => replica.ticks.length >= 1), INTERVAL_MS * 4));
  const leaving = replicas.find((replica) => replica.ticks.length > 0)!;
  const staying = replicas.find((replica) => replica !== leaving)!;
  leaving.membership.leave();
  const leftAt = Date.now();
  assert.equal(leaving.loop.joined, 0);
  assert.ok(await waitFor(() => staying.ticks.some((at) => at >= leftAt), INTERVAL_MS * 4));
  const takeoverMs = staying.ticks.find((at) => at >= leftAt)! - leftAt;
  assert.ok(takeoverMs <= INTERVAL_MS + 100, `took over after ${takeoverMs} ms`);
  const ticksAfterLeaving = leaving.ticks.length;
  staying.membership.leave();
  await sleep(INTERVAL_MS * 2);
  assert.equal(leaving.ticks.length, ticksAfterLeaving, 'no ticks after leave');
  assert.deepEqual(await keysUnder(admin, 'tg-leader-leaves:'), []);
  assert.ok(redisReplicas.every((redis) => redis.subscriptionCount === 0));
});

test('one subscription per joined key, and a key joins once per process', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-leader-keys:' }, 1);
  const loop = new LeaderLoop(redis!);
  t.after(() => loop.close());
  const options = { intervalMs: INTERVAL_MS, onTick: () => {}, onMessage: () => {} };
  for (const key of ['vtrix:1', 'vtrix:2', 'gravitex:3']) loop.join(key, options);
  assert.equal(loop.joined, 3);
  assert.equal(redis!.subscriptionCount, 3);
  assert.throws(() => loop.join('vtrix:1', options), AlreadyJoinedError);
  assert.ok(await waitFor(() => loop.leasesHeld === 3));
});

test('Redis stopped: every joiner ticks for itself; back: one leader again', async (t) => {
  const redisReplicas = await connectReplicas(t, { url: server.url, prefix: 'tg-leader-stop:' }, 3);
  const replicas = joinAll(redisReplicas, 'vtrix:stop', t);
  assert.ok(await waitFor(() => replicas.some((replica) => replica.ticks.length >= 1), INTERVAL_MS * 4));
  server.pause();
  let pausedAt = 0;
  try {
    pausedAt = Date.now();
    assert.ok(
      await waitFor(() => tickingSince(replicas, pausedAt).length === 3, INTERVAL_MS * 6),
      `ticking while Redis is stopped: ${tickingSince(replicas, pausedAt).length} of 3`,
    );
    assert.ok(replicas.every((replica) => replica.membership.role === 'local'));
    assert.ok(replicas.every((replica) => replica.loop.leasesHeld === 0));
  } finally {
    server.resume();
  }
  assert.ok(await waitFor(() => redisReplicas.every((redis) => redis.up), 4000));
  await sleep(INTERVAL_MS * 3);
  const settledAt = Date.now();
  await sleep(INTERVAL_MS * 4);
  assert.equal(tickingSince(replicas, settledAt).length, 1, 'one leader once Redis is back');
  assert.deepEqual(replicas.map((replica) => replica.membership.role).sort(), ['follower', 'follower', 'leader']);
});

test('Redis killed and restarted: local ticks meanwhile, then one leader on the new server', async (t) => {
  const redisReplicas = await connectReplicas(t, { url: server.url, prefix: 'tg-leader-restart:' }, 2);
  const replicas = joinAll(redisReplicas, 'vtrix:restart', t);
  assert.ok(await waitFor(() => replicas.some((replica) => replica.ticks.length >= 1), INTERVAL_MS * 4));
  await server.kill();
  const killedAt = Date.now();
  assert.ok(await waitFor(() => tickingSince(replicas, killedAt).length === 2, INTERVAL_MS * 6));
  await server.restart();
  assert.ok(await waitFor(() => redisReplicas.every((redis) => redis.up), 4000));
  await sleep(INTERVAL_MS * 3);
  const settledAt = Date.now();
  await sleep(INTERVAL_MS * 4);
  assert.equal(tickingSince(replicas, settledAt).length, 1);
  const leader = tickingSince(replicas, settledAt)[0]!;
  const follower = replicas.find((replica) => replica !== leader)!;
  const latest = leader.messages.at(-1)!;
  assert.ok(await waitFor(() => follower.messages.includes(latest)), 'messages flow again through the new server');
});
