import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { FleetRedis, UNAVAILABLE } from '../../src/fleet/redis.js';
import { adminClient, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

async function numberOfSubscribers(admin: ReturnType<typeof adminClient>, channel: string): Promise<number> {
  const reply = (await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

/** Times each of `count` concurrent calls; all must come back UNAVAILABLE. */
/** `count` calls at once, each unavailable: how long each took, and how many reached the client at all. */
async function timeUnavailableCalls(redis: FleetRedis, count: number): Promise<{ durations: number[]; sent: number }> {
  let sent = 0;
  const durations = await Promise.all(
    Array.from({ length: count }, async () => {
      const started = performance.now();
      const outcome = await redis.run((client) => {
        sent++;
        return client.get(redis.key('anything'));
      });
      assert.equal(outcome, UNAVAILABLE);
      return performance.now() - started;
    }),
  );
  return { durations, sent };
}

test('keys and channels carry the prefix; a message published on a prefixed channel reaches the listener', async (t) => {
  const redis = await FleetRedis.create({ url: server.url, prefix: 'tg-prefix:' });
  t.after(() => redis.close());
  const admin = adminClient(t, server.url);
  assert.equal(redis.key('cache', 'terminal', 'vtrix:abc'), 'tg-prefix:cache:terminal:vtrix:abc');
  assert.equal(redis.channel('leader', 'vtrix:abc'), 'tg-prefix:leader:vtrix:abc');
  const received: string[] = [];
  const subscription = redis.subscribe(redis.channel('news'), (message) => received.push(message));
  assert.equal(await subscription.ready, true);
  await admin.publish('news', 'unprefixed');
  await admin.publish('tg-prefix:news', 'prefixed');
  assert.ok(await waitFor(() => received.length > 0));
  assert.deepEqual(received, ['prefixed']);
});

test('one Redis SUBSCRIBE per channel however many listeners, dropped with the last listener', async (t) => {
  const redis = await FleetRedis.create({ url: server.url, prefix: 'tg-refcount:' });
  t.after(() => redis.close());
  const admin = adminClient(t, server.url);
  const first = redis.channel('task', 'one');
  const second = redis.channel('task', 'two');
  const counts = { first: 0, second: 0 };
  const firstSubscriptions = Array.from({ length: 5 }, () => redis.subscribe(first, () => counts.first++));
  const secondSubscriptions = Array.from({ length: 3 }, () => redis.subscribe(second, () => counts.second++));
  assert.deepEqual(await Promise.all([...firstSubscriptions, ...secondSubscriptions].map((s) => s.ready)), Array(8).fill(true));
  assert.equal(redis.subscriptionCount, 2);
  assert.equal(await numberOfSubscribers(admin, first), 1);
  assert.equal(await numberOfSubscribers(admin, second), 1);

  await admin.publish(first, 'hello');
  assert.ok(await waitFor(() => counts.first === 5));
  assert.equal(counts.second, 0);

  for (const subscription of firstSubscriptions.slice(1)) subscription.unsubscribe();
  assert.equal(redis.subscriptionCount, 2, 'one listener is left on the first channel');
  await admin.publish(first, 'still there');
  assert.ok(await waitFor(() => counts.first === 6));
  assert.equal(await numberOfSubscribers(admin, first), 1);

  firstSubscriptions[0]!.unsubscribe();
  assert.equal(redis.subscriptionCount, 1);
  assert.ok(await waitFor(async () => (await numberOfSubscribers(admin, first)) === 0));
  assert.equal(await numberOfSubscribers(admin, second), 1);
});

test('nothing listening at the URL: create resolves reporting down once, and calls answer unavailable', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
  const changes: boolean[] = [];
  const started = performance.now();
  const redis = await FleetRedis.create({
    url: `redis://127.0.0.1:${port}`,
    prefix: 'tg-nothing:',
    connectTimeoutMs: 300,
    onHealthChange: (up) => changes.push(up),
  });
  t.after(() => redis.close());
  assert.ok(performance.now() - started < 2000);
  assert.deepEqual(changes, [false]);
  assert.equal(redis.up, false);
  assert.equal(await redis.run((client) => client.ping()), UNAVAILABLE);
  assert.equal(await redis.publish(redis.channel('x'), 'y'), false);
  assert.equal(await redis.subscribe(redis.channel('x'), () => {}).ready, false);
});

test('SIGSTOP: calls answer unavailable at their command deadline and health goes down once; SIGCONT: up once, subscriptions work', async (t) => {
  const changes: boolean[] = [];
  const redis = await FleetRedis.create({
    url: server.url,
    prefix: 'tg-stop:',
    commandTimeoutMs: 50,
    onHealthChange: (up) => changes.push(up),
  });
  t.after(() => redis.close());
  const admin = adminClient(t, server.url);
  assert.deepEqual(changes, [true]);
  const kept: string[] = [];
  const dropped: string[] = [];
  const keptSubscription = redis.subscribe(redis.channel('kept'), (message) => kept.push(message));
  const droppedSubscription = redis.subscribe(redis.channel('dropped'), (message) => dropped.push(message));
  assert.equal(await keptSubscription.ready, true);
  assert.equal(await droppedSubscription.ready, true);

  server.pause();
  let addedDuringPause: ReturnType<FleetRedis['subscribe']>;
  const added: string[] = [];
  try {
    const firstWave = await timeUnavailableCalls(redis, 20);
    assert.equal(firstWave.sent, 20, 'while up, every call is tried');
    // Coarse on purpose: the 50 ms command deadline answers them, not Redis (which never would).
    assert.ok(Math.max(...firstWave.durations) < 1000, `first calls took ${Math.max(...firstWave.durations).toFixed(0)} ms`);
    // A timeout alone could be this process's busy event loop: one PING (same timeout) confirms it.
    assert.ok(await waitFor(() => !redis.up, 500), 'health did not go down after the confirming PING');
    const secondWave = await timeUnavailableCalls(redis, 20);
    // Once down, Redis is skipped entirely: no call reaches the client, so none waits.
    assert.equal(secondWave.sent, 0, 'calls while down were sent to Redis');
    assert.equal(redis.up, false);
    assert.deepEqual(changes, [true, false]);
    assert.equal(await redis.publish(redis.channel('kept'), 'lost'), false);
    droppedSubscription.unsubscribe();
    addedDuringPause = redis.subscribe(redis.channel('added'), (message) => added.push(message));
    assert.equal(await addedDuringPause.ready, false);
    // The probe keeps failing while stopped; health must not flap.
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(changes, [true, false]);
  } finally {
    server.resume();
  }

  assert.ok(await waitFor(() => redis.up, 4000), 'Redis never came back up');
  assert.deepEqual(changes, [true, false, true]);
  assert.ok(await redis.publish(redis.channel('kept'), 'after'));
  await admin.publish('tg-stop:added', 'new');
  await admin.publish('tg-stop:dropped', 'nobody');
  assert.ok(await waitFor(() => kept.includes('after') && added.includes('new')));
  assert.deepEqual(dropped, []);
  assert.ok(await waitFor(() => redis.subscriptionCount === 2));
  assert.ok(
    await waitFor(async () => (await numberOfSubscribers(admin, 'tg-stop:dropped')) === 0),
    'a channel left while Redis was stopped is unsubscribed once it is back',
  );
});

test('kill and restart on the same port: down at once, up once when back, subscriptions restored on the new server', async (t) => {
  const changes: boolean[] = [];
  const redis = await FleetRedis.create({
    url: server.url,
    prefix: 'tg-restart:',
    commandTimeoutMs: 50,
    onHealthChange: (up) => changes.push(up),
  });
  t.after(() => redis.close());
  const received: string[] = [];
  assert.equal(await redis.subscribe(redis.channel('news'), (message) => received.push(message)).ready, true);

  await server.kill();
  assert.ok(await waitFor(() => !redis.up, 1000), 'a closed connection marks Redis down');
  const whileDown = await timeUnavailableCalls(redis, 10);
  assert.equal(whileDown.sent, 0, 'calls while down were sent to Redis');
  assert.deepEqual(changes, [true, false]);

  await server.restart();
  assert.ok(await waitFor(() => redis.up, 4000), 'Redis never came back up');
  assert.deepEqual(changes, [true, false, true]);
  const admin = adminClient(t, server.url);
  await admin.publish('tg-restart:news', 'after restart');
  assert.ok(await waitFor(() => received.includes('after restart')));
  assert.equal(await redis.run((client) => client.set(redis.key('probe'), '1', 'PX', 1000)), 'OK');
});

test('a Redis error reply fails that call only; health stays up', async (t) => {
  const changes: boolean[] = [];
  const redis = await FleetRedis.create({ url: server.url, prefix: 'tg-reply:', onHealthChange: (up) => changes.push(up) });
  t.after(() => redis.close());
  await redis.run((client) => client.set(redis.key('text'), 'not a list', 'PX', 1000));
  assert.equal(await redis.run((client) => client.lpush(redis.key('text'), 'x')), UNAVAILABLE);
  assert.equal(redis.up, true);
  assert.deepEqual(changes, [true]);
});

test('after close: no calls, no health reports', async () => {
  const changes: boolean[] = [];
  const redis = await FleetRedis.create({ url: server.url, prefix: 'tg-close:', onHealthChange: (up) => changes.push(up) });
  redis.close();
  assert.equal(redis.up, false);
  assert.equal(await redis.run((client) => client.ping()), UNAVAILABLE);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(changes, [true]);
});

test('a command whose deadline passed while this process was busy (not Redis) gets its reply, and Redis stays up', async (t) => {
  const changes: boolean[] = [];
  const redis = await FleetRedis.create({ url: server.url, prefix: 'tg-busy:', commandTimeoutMs: 50, onHealthChange: (up) => changes.push(up) });
  t.after(() => redis.close());
  const pending = redis.run((client) => client.set(redis.key('during'), '1', 'PX', 1000));
  // Block the event loop past the command timeout: its timer fires before the reply is read.
  const until = performance.now() + 120;
  while (performance.now() < until);
  assert.equal(await pending, 'OK', 'the reply waiting in the socket is taken, not a timeout');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(redis.up, true);
  assert.deepEqual(changes, [true]);
  assert.equal(await redis.run((client) => client.set(redis.key('after'), '1', 'PX', 1000)), 'OK');
});
