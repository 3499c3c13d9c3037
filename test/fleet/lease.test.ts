import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Lease } from '../../src/fleet/lease.js';
import { UNAVAILABLE } from '../../src/fleet/redis.js';
import { adminClient, connectReplicas, startRedis, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

test('one holder at a time; the other replica is told who holds it and for how long', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-lease-exclusive:' }, 2);
  const mine = new Lease(first!);
  const theirs = new Lease(second!);
  const token = await mine.tryAcquire('poll:vtrix:abc', 5000);
  assert.equal(typeof token, 'string');
  assert.equal(await theirs.tryAcquire('poll:vtrix:abc', 5000), null);
  assert.equal(await mine.tryAcquire('poll:vtrix:abc', 5000), null, 'not re-entrant either');
  const attempt = await theirs.attempt('poll:vtrix:abc', 5000);
  assert.ok(attempt !== UNAVAILABLE && !attempt.acquired);
  assert.equal(attempt.holder, token);
  assert.ok(attempt.ttlMs !== null && attempt.ttlMs > 4000 && attempt.ttlMs <= 5000, `ttl ${attempt.ttlMs}`);
  assert.equal(typeof (await theirs.tryAcquire('poll:vtrix:other', 5000)), 'string', 'names are independent');
});

test('only the holder renews or releases', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-lease-holder:' }, 2);
  const admin = adminClient(t, server.url);
  const mine = new Lease(first!);
  const theirs = new Lease(second!);
  const token = (await mine.tryAcquire('flight:x', 300)) as string;
  assert.equal(await theirs.renew('flight:x', 'not-the-token', 60_000), false);
  assert.equal(await theirs.release('flight:x', 'not-the-token'), false);
  assert.equal(await admin.get(mine.key('flight:x')), token, 'still held by its holder');
  assert.ok((await admin.pttl(mine.key('flight:x'))) <= 300, 'a stranger did not extend it');

  assert.equal(await mine.renew('flight:x', token, 60_000), true);
  assert.ok((await admin.pttl(mine.key('flight:x'))) > 30_000, 'the holder extended it');
  assert.equal(await mine.release('flight:x', token), true);
  assert.equal(await admin.exists(mine.key('flight:x')), 0);
  assert.equal(typeof (await theirs.tryAcquire('flight:x', 300)), 'string', 'free again');
});

test('an expired lease goes to the next replica, and the old holder can neither renew nor release it', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-lease-expiry:' }, 2);
  const mine = new Lease(first!);
  const theirs = new Lease(second!);
  const oldToken = (await mine.tryAcquire('leader:y', 100)) as string;
  await sleep(150);
  const newToken = await theirs.tryAcquire('leader:y', 5000);
  assert.equal(typeof newToken, 'string');
  assert.equal(await mine.renew('leader:y', oldToken, 5000), false);
  assert.equal(await mine.release('leader:y', oldToken), false);
  assert.equal(await theirs.renew('leader:y', newToken as string, 5000), true);
});

test('Redis unavailable: every operation answers UNAVAILABLE, not null or false', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-lease-down:' }, 1);
  const lease = new Lease(redis!);
  const token = (await lease.tryAcquire('z', 5000)) as string;
  redis!.close();
  assert.equal(await lease.tryAcquire('z', 5000), UNAVAILABLE);
  assert.equal(await lease.attempt('z', 5000), UNAVAILABLE);
  assert.equal(await lease.renew('z', token, 5000), UNAVAILABLE);
  assert.equal(await lease.release('z', token), UNAVAILABLE);
});
