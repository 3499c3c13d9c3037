/**
 * The upstream budget in fleet mode: one count per provider and second in Redis, so the
 * replicas together stay within `maxRequestsPerSecond` (client requests counted, never
 * refused); while Redis is unavailable each replica counts on its own.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FleetBudgetCounter } from '../../src/fleet/upstream-budget.js';
import { adminClient, connectReplicas, keysUnder, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

/** A second of its own for each test, so none crosses a second boundary while it counts. */
let fixedNow = Date.parse('2026-12-01T10:00:00Z');
const nextSecond = () => (fixedNow += 1000);

test('three replicas share one count per second: background takes stop at the ceiling, client requests are counted first', async (t) => {
  const prefix = 'tg-budget-a:';
  const replicas = await connectReplicas(t, { url: server.url, prefix }, 3);
  const now = nextSecond();
  const counters = replicas.map((redis) => new FleetBudgetCounter(redis, 'vtrix', () => now));
  counters[0]!.add(3);
  // Wait for the fire-and-forget count to land before the takes read it.
  const admin = adminClient(t, server.url);
  assert.ok(await waitFor(async () => (await admin.get(`${prefix}budget:vtrix:${Math.floor(now / 1000)}`)) === '3'));
  const takes = await Promise.all(Array.from({ length: 30 }, (_, index) => counters[index % 3]!.take(8)));
  assert.equal(takes.filter(Boolean).length, 5, '8 in the second, 3 of them spent by client requests');
  const other = new FleetBudgetCounter(replicas[1]!, 'gravitex', () => now);
  assert.equal(await other.take(8), true, 'each provider has its own count');
  const keys = await keysUnder(admin, prefix);
  assert.ok(keys.length >= 2);
  for (const key of keys) {
    const ttl = await admin.pttl(key);
    assert.ok(ttl > 0 && ttl <= 3000, `${key} PTTL ${ttl}`);
  }
});

test('while Redis is unavailable each replica counts on its own, as a single gateway would', async (t) => {
  const prefix = 'tg-budget-b:';
  const [first, second] = await connectReplicas(t, { url: server.url, prefix, commandTimeoutMs: 50 }, 2);
  const now = nextSecond();
  const counters = [new FleetBudgetCounter(first!, 'vtrix', () => now), new FleetBudgetCounter(second!, 'vtrix', () => now)];
  server.pause();
  try {
    const takes = [];
    for (let index = 0; index < 12; index++) takes.push(await counters[index % 2]!.take(4));
    assert.equal(takes.filter(Boolean).length, 8, '4 each: no shared count, no error either');
  } finally {
    server.resume();
  }
});
