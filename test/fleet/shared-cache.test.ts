import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import { FleetRedis } from '../../src/fleet/redis.js';
import { SharedCache } from '../../src/fleet/shared-cache.js';
import { adminClient, connectReplicas, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';
import { busyFor } from '../helpers/busy.js';

const EntrySchema = z.object({ status: z.enum(['queued', 'succeeded']), url: z.string().nullable() });
type Entry = z.infer<typeof EntrySchema>;
const SUCCEEDED: Entry = { status: 'succeeded', url: 'https://cdn.example/output.mp4' };

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

function cacheOn(redis: FleetRedis): SharedCache<Entry> {
  return new SharedCache({ redis, namespace: 'terminal', maxEntries: 100, schema: EntrySchema });
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

test('a value set on one replica is read by another, which then holds it locally', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-share:' }, 2);
  const writer = cacheOn(first!);
  const reader = cacheOn(second!);
  await writer.set('vtrix:abc', SUCCEEDED, 5000);
  assert.deepEqual(writer.peekLocal('vtrix:abc'), SUCCEEDED);
  assert.equal(reader.peekLocal('vtrix:abc'), undefined);
  assert.deepEqual(await reader.get('vtrix:abc'), SUCCEEDED);
  assert.deepEqual(reader.peekLocal('vtrix:abc'), SUCCEEDED);
  assert.equal(await reader.get('vtrix:missing'), undefined);
});

test('a locally held value is answered without Redis: deleting it at Redis does not change the answer', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-local:' }, 2);
  const admin = adminClient(t, server.url);
  const holder = cacheOn(first!);
  const other = cacheOn(second!);
  await holder.set('gravitex:task_1', SUCCEEDED, 5000);
  await admin.del(holder.redisKey('gravitex:task_1'));
  assert.deepEqual(await holder.get('gravitex:task_1'), SUCCEEDED);
  assert.equal(await other.get('gravitex:task_1'), undefined);
});

test('both copies expire with the TTL given, and a copy read from Redis keeps only the time left', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-ttl:' }, 2);
  const admin = adminClient(t, server.url);
  const writer = cacheOn(first!);
  const reader = cacheOn(second!);
  // Generous times: a loaded CI machine can take hundreds of ms between two steps.
  await writer.set('vtrix:short', SUCCEEDED, 2000);
  const pttl = await admin.pttl(writer.redisKey('vtrix:short'));
  assert.ok(pttl > 0 && pttl <= 2000, `PTTL ${pttl}`);
  await sleep(1000);
  assert.deepEqual(await reader.get('vtrix:short'), SUCCEEDED);
  await sleep(1300);
  assert.equal(writer.peekLocal('vtrix:short'), undefined);
  assert.equal(reader.peekLocal('vtrix:short'), undefined, 'the reader kept the remaining ~1 s, not a fresh 2 s');
  assert.equal(await reader.get('vtrix:short'), undefined);
  assert.equal(await admin.exists(writer.redisKey('vtrix:short')), 0);
});

test('an entry that does not fit the schema, or is not JSON, is a miss', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-bad:' }, 1);
  const admin = adminClient(t, server.url);
  const cache = cacheOn(redis!);
  await admin.set(cache.redisKey('wrong-shape'), JSON.stringify({ status: 'exploded' }), 'PX', 5000);
  await admin.set(cache.redisKey('not-json'), '{"status":', 'PX', 5000);
  assert.equal(await cache.get('wrong-shape'), undefined);
  assert.equal(await cache.get('not-json'), undefined);
  assert.equal(cache.localSize, 0);
});

test('delete removes the value here and at Redis', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-delete:' }, 2);
  const writer = cacheOn(first!);
  await writer.set('vtrix:gone', SUCCEEDED, 5000);
  await writer.delete('vtrix:gone');
  assert.equal(writer.peekLocal('vtrix:gone'), undefined);
  assert.equal(await cacheOn(second!).get('vtrix:gone'), undefined);
});

test('the local layer is bounded', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-bound:' }, 1);
  const cache = new SharedCache({ redis: redis!, namespace: 'terminal', maxEntries: 3, schema: EntrySchema });
  for (let index = 0; index < 10; index++) await cache.set(`vtrix:${index}`, SUCCEEDED, 5000);
  assert.equal(cache.localSize, 3);
  assert.equal(cache.peekLocal('vtrix:0'), undefined);
  assert.deepEqual(await cache.get('vtrix:0'), SUCCEEDED, 'evicted locally, still in Redis');
});

test('Redis unavailable: get is a miss at once, set still fills the local layer', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-down:' }, 1);
  const cache = cacheOn(redis!);
  server.pause();
  try {
    const started = Date.now();
    assert.equal(await cache.get('vtrix:unknown'), undefined);
    await cache.set('vtrix:kept', SUCCEEDED, 5000);
    assert.ok(Date.now() - started < 500);
    // A timeout counts once a confirming PING also goes unanswered (src/fleet/redis.ts).
    assert.ok(await waitFor(() => !redis!.up, 2000), 'marked down');
    assert.deepEqual(cache.peekLocal('vtrix:kept'), SUCCEEDED);
    assert.deepEqual(await cache.get('vtrix:kept'), SUCCEEDED);
  } finally {
    server.resume();
  }
  assert.ok(await waitFor(() => redis!.up, 4000));
});

test('a value held locally is gone once its time to live has passed, even while the event loop is busy', async (t) => {
  const [replica] = await connectReplicas(t, { url: server.url, prefix: 'tg-cache-busy:' }, 1);
  const cache = cacheOn(replica!);
  await cache.set('vtrix:busy', SUCCEEDED, 50);
  assert.deepEqual(cache.peekLocal('vtrix:busy'), SUCCEEDED);
  busyFor(80);
  assert.equal(cache.peekLocal('vtrix:busy'), undefined);
});
