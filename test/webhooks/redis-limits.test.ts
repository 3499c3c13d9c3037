/**
 * Webhooks on a Redis that refuses writes: at `maxmemory` with `noeviction` (a real
 * redis-server started with `--maxmemory 2mb`) and as a read-only replica. A registration
 * is 503 service_unavailable, never a 201 for a webhook that was not kept, and no script
 * writes past the limit (every writing script is refused as a whole before it runs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { adminClient, keysUnder, startRedis } from '../helpers/redis.js';
import { json } from '../helpers/stack.js';
import { registerWebhook, startWebhookStack } from '../helpers/webhook-stack.js';

const MAX_MEMORY = 2 * 1024 * 1024;
const FINISHED = 'video_69095b4ce0048190893a01510c0c98b0';
// The task succeeded and only task.failed is asked: each registration writes its webhook and nothing is delivered.
const BODY = { url: 'https://hooks.example/limits', events: ['task.failed'] };
const resolveHostname = () => Promise.resolve([{ address: '93.184.215.14', family: 4 }]);

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
}

/** The commands that write which the gateway uses, alone or inside its scripts. */
const WRITES = new Set(['set', 'hset', 'hsetnx', 'hincrby', 'hdel', 'zadd', 'zrem', 'zremrangebyscore', 'zpopmin', 'rpush', 'ltrim', 'del', 'pexpire', 'incr']);

/** The writing commands Redis ran since RESETSTAT (those scripts call included), refused ones not counted. */
async function writesRan(admin: Redis): Promise<string[]> {
  const ran: string[] = [];
  for (const match of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),.*failed_calls=(\d+)/gm)) {
    if (WRITES.has(match[1]!) && Number(match[2]) > Number(match[3])) ran.push(match[1]!);
  }
  return ran;
}

/** Writes small values until Redis refuses one as out of memory; answers how many it took. */
async function fillUntilRefused(admin: Redis): Promise<number> {
  const value = 'x'.repeat(200);
  for (let batch = 0; batch < 500; batch++) {
    const pipeline = admin.pipeline();
    for (let index = 0; index < 100; index++) pipeline.set(`filler:${batch}:${index}`, value);
    const results = (await pipeline.exec()) ?? [];
    if (results.some(([error]) => error !== null && /^OOM/.test(error.message))) return batch * 100;
  }
  throw new Error('Redis never refused a write: is --maxmemory in effect?');
}

test('at maxmemory (noeviction) a registration is 503, and Redis holds no more than before', async (t) => {
  const server = await startRedis({ args: ['--maxmemory', String(MAX_MEMORY), '--maxmemory-policy', 'noeviction'] });
  t.after(() => server.stop());
  const admin = adminClient(t, server.url);
  const prefix = 'limits:';
  const lines: string[] = [];
  const { app } = await startWebhookStack(t, {
    env: { REDIS_URL: server.url, TASKGATE_REDIS_PREFIX: prefix },
    resolveHostname,
    logger: { level: 'warn', stream: { write: (line: string) => void lines.push(line) } },
  });
  const kept = await registerWebhook(app, FINISHED, BODY);
  assert.equal(kept.statusCode, 201, `with room, a registration is kept: ${kept.body}`);

  await fillUntilRefused(admin);
  // Right at the limit, a write fits whenever a connection buffer has just been freed. Redis
  // full for good: 1 MB more with the limit lifted for a moment, then the limit again. In
  // small values: one big SET would count its own query buffer, which Redis frees a moment
  // later, and then it would be under the limit again.
  await admin.config('SET', 'maxmemory', '0');
  for (let index = 0; index < 32; index++) await admin.set(`filler:over:${index}`, 'x'.repeat(32 * 1024));
  await admin.config('SET', 'maxmemory', String(MAX_MEMORY));
  assert.ok((await usedMemory(admin)) > MAX_MEMORY, 'Redis is over its limit');
  await assert.rejects(admin.set('probe', 'plain'), /OOM command not allowed/, 'a plain SET is refused');
  const keysBefore = await admin.dbsize();
  await admin.config('RESETSTAT');

  const webhookKeysBefore = (await keysUnder(admin, `${prefix}webhook:`)).length;
  for (let index = 0; index < 30; index++) {
    const refused = await registerWebhook(app, FINISHED, BODY);
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(json(refused).code, 'service_unavailable');
    assert.match(String(json(refused).detail), /Redis refuses writes/);
    assert.ok(Number(refused.headers['retry-after']) > 0);
  }
  assert.equal(await admin.dbsize(), keysBefore, 'no key was added');
  assert.equal((await keysUnder(admin, `${prefix}webhook:`)).length, webhookKeysBefore);
  // Nothing of ours wrote: every script that writes was refused before it ran (no HSET, ZADD… ran inside one).
  assert.deepEqual(await writesRan(admin), [], 'writes that ran while Redis was full');
  assert.ok(lines.some((line) => /Redis refuses writes/.test(line) && /OOM/.test(line)), `the operator is told: ${lines.join('')}`);
  assert.equal(lines.filter((line) => /webhooks: Redis refuses writes/.test(line)).length, 1, 'once, not once per registration');

  // Room again: registrations are kept again.
  await admin.config('SET', 'maxmemory', '0');
  assert.equal((await registerWebhook(app, FINISHED, BODY)).statusCode, 201);
});

test('on a read-only replica a registration is 503', async (t) => {
  const [server, primary] = await Promise.all([startRedis(), startRedis()]);
  t.after(() => Promise.all([server.stop(), primary.stop()]));
  const admin = adminClient(t, server.url);
  const { app } = await startWebhookStack(t, { env: { REDIS_URL: server.url, TASKGATE_REDIS_PREFIX: 'replica:' }, resolveHostname });
  assert.equal((await registerWebhook(app, FINISHED, BODY)).statusCode, 201);
  // A replica refuses writes from the moment it is one, before its first sync.
  await admin.call('REPLICAOF', '127.0.0.1', String(primary.port));
  assert.match(await admin.info('replication'), /role:slave/);
  const refused = await registerWebhook(app, FINISHED, BODY);
  assert.equal(refused.statusCode, 503, refused.body);
  assert.equal(json(refused).code, 'service_unavailable');
  assert.match(String(json(refused).detail), /Redis refuses writes/);
});
