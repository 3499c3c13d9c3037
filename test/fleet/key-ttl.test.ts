import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import { decodeGatewayError, encodeGatewayError } from '../../src/fleet/gateway-errors.js';
import { LeaderLoop } from '../../src/fleet/leader-loop.js';
import { Lease } from '../../src/fleet/lease.js';
import { SharedCache } from '../../src/fleet/shared-cache.js';
import { FleetSingleFlight } from '../../src/fleet/single-flight.js';
import { adminClient, connectReplicas, keysUnder, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

test('every key any block writes is under the prefix and has a TTL', async (t) => {
  const prefix = 'tg-ttl:';
  const [first, second] = await connectReplicas(t, { url: server.url, prefix }, 2);
  const admin = adminClient(t, server.url);
  const schema = z.object({ status: z.string() });

  const cache = new SharedCache({ redis: first!, namespace: 'terminal', maxEntries: 10, schema });
  await cache.set('vtrix:done', { status: 'succeeded' }, 60_000);

  assert.equal(typeof (await new Lease(first!).tryAcquire('held', 60_000)), 'string');

  const codec = {
    encodeValue: (value: { status: string }) => value,
    decodeValue: (data: unknown) => schema.parse(data),
    encodeError: encodeGatewayError,
    decodeError: decodeGatewayError,
  };
  const flight = new FleetSingleFlight({ redis: first!, namespace: 'task', codec, outcomeTtlMs: 60_000 });
  await flight.execute('vtrix:flown', { budgetMs: 1000, leaseMs: 60_000, run: async () => ({ status: 'queued' }) });
  // A flight still running holds its lease.
  let finish: () => void = () => {};
  const running = flight.execute('vtrix:running', {
    budgetMs: 5000,
    leaseMs: 60_000,
    run: () => new Promise((resolve) => (finish = () => resolve({ status: 'in_progress' }))),
  });

  const loop = new LeaderLoop(second!);
  t.after(() => loop.close());
  loop.join('vtrix:watched', { intervalMs: 100, onTick: () => {}, onMessage: () => {} });
  assert.ok(await waitFor(() => loop.leasesHeld === 1));

  const keys = await keysUnder(admin, prefix);
  assert.ok(keys.length >= 5, `keys written: ${keys.join(', ')}`);
  for (const kind of ['cache:', 'lease:held', 'flight-outcome:', 'lease:flight:', 'lease:leader:']) {
    assert.ok(keys.some((key) => key.startsWith(prefix + kind)), `no ${kind} key among ${keys.join(', ')}`);
  }
  for (const key of keys) {
    const pttl = await admin.pttl(key);
    assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
  }
  assert.equal(await admin.dbsize(), keys.length, 'nothing was written outside the prefix');
  finish();
  await running;
});
