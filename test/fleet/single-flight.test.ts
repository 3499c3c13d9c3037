import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import { GatewayError } from '../../src/errors.js';
import { decodeGatewayError, encodeGatewayError } from '../../src/fleet/gateway-errors.js';
import { Lease } from '../../src/fleet/lease.js';
import type { FleetRedis } from '../../src/fleet/redis.js';
import { FleetSingleFlight, type FlightCodec } from '../../src/fleet/single-flight.js';
import { adminClient, connectReplicas, startRedis, type TestRedis } from '../helpers/redis.js';

const StateSchema = z.object({ status: z.string(), progress: z.number() });
type State = z.infer<typeof StateSchema>;
const codec: FlightCodec<State> = {
  encodeValue: (value) => value,
  decodeValue: (data) => StateSchema.parse(data),
  encodeError: encodeGatewayError,
  decodeError: decodeGatewayError,
};

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

function flightOn(redis: FleetRedis): FleetSingleFlight<State> {
  return new FleetSingleFlight({ redis, namespace: 'task', codec });
}

/** A call that counts how often it ran and takes `milliseconds`. */
function countedCall(milliseconds: number, value: State = { status: 'in_progress', progress: 40 }) {
  const calls = { count: 0 };
  const run = async (): Promise<State> => {
    calls.count++;
    await sleep(milliseconds);
    return value;
  };
  return { calls, run };
}

test('20 concurrent callers on 3 replicas: the call runs once and every caller gets its value', async (t) => {
  const replicas = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-once:' }, 3);
  // One flight object per caller, so no caller is coalesced in-process: all 19 others wait through Redis.
  const flights = Array.from({ length: 20 }, (_, index) => flightOn(replicas[index % 3]!));
  const { calls, run } = countedCall(150);
  const results = await Promise.all(flights.map((flight) => flight.execute('vtrix:abc', { budgetMs: 3000, leaseMs: 1000, run })));
  assert.equal(calls.count, 1);
  assert.deepEqual(results, Array(20).fill({ status: 'in_progress', progress: 40 }));
  assert.ok(replicas.every((replica) => replica.subscriptionCount === 0), 'waiters unsubscribed');
});

test('callers in one process share one fleet flight; a call after it finished runs again', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-local:' }, 1);
  const flight = flightOn(redis!);
  const { calls, run } = countedCall(50);
  const concurrent = [1, 2, 3].map(() => flight.execute('vtrix:local', { budgetMs: 3000, leaseMs: 1000, run }));
  assert.equal(flight.inFlight, 1);
  await Promise.all(concurrent);
  assert.equal(calls.count, 1);
  assert.equal(flight.inFlight, 0);
  await flight.execute('vtrix:local', { budgetMs: 3000, leaseMs: 1000, run });
  assert.equal(calls.count, 2, 'a finished outcome is not a cache');
});

test('an error travels to the waiters with its code, detail, provider and Retry-After', async (t) => {
  const replicas = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-error:' }, 3);
  const failure = new GatewayError('upstream_rate_limited', { provider: 'vtrix', retryAfter: 7, detail: 'vtrix asked us to slow down.' });
  let count = 0;
  const run = async (): Promise<State> => {
    count++;
    await sleep(100);
    throw failure;
  };
  const outcomes = await Promise.allSettled(replicas.map((replica) => flightOn(replica).execute('vtrix:limited', { budgetMs: 3000, leaseMs: 1000, run })));
  assert.equal(count, 1);
  const errors = outcomes.map((outcome) => {
    assert.equal(outcome.status, 'rejected');
    return (outcome).reason as unknown;
  });
  assert.equal(errors.filter((error) => error === failure).length, 1, 'the holder gets the original error object');
  for (const error of errors) {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'upstream_rate_limited');
    assert.equal(error.status, 503);
    assert.equal(error.detail, 'vtrix asked us to slow down.');
    assert.equal(error.provider, 'vtrix');
    assert.equal(error.retryAfter, 7);
  }
});

test('an error that cannot be shared is not: a waiter runs the call itself', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-bug:' }, 2);
  let count = 0;
  const run = async (): Promise<State> => {
    count++;
    await sleep(100);
    if (count === 1) throw new TypeError('a bug, not a problem to hand around');
    return { status: 'queued', progress: 0 };
  };
  const holder = flightOn(first!).execute('vtrix:bug', { budgetMs: 3000, leaseMs: 1000, run });
  await sleep(20);
  const waiter = flightOn(second!).execute('vtrix:bug', { budgetMs: 3000, leaseMs: 1000, run });
  await assert.rejects(holder, TypeError);
  assert.deepEqual(await waiter, { status: 'queued', progress: 0 });
  assert.equal(count, 2);
});

test('an outcome published before the waiter subscribed is read from where the holder stored it', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-late:' }, 1);
  const admin = adminClient(t, server.url);
  const flight = flightOn(redis!);
  const token = (await new Lease(redis!).tryAcquire(flight.leaseName('vtrix:late'), 5000)) as string;
  const stored = { token, ok: true, value: { status: 'succeeded', progress: 100 } };
  await admin.set(flight.outcomeKey('vtrix:late'), JSON.stringify(stored), 'PX', 5000);
  const { calls, run } = countedCall(10);
  const started = Date.now();
  assert.deepEqual(await flight.execute('vtrix:late', { budgetMs: 3000, leaseMs: 1000, run }), { status: 'succeeded', progress: 100 });
  assert.equal(calls.count, 0);
  assert.ok(Date.now() - started < 1000);
});

test("an earlier flight's stored outcome is not taken for the current holder's", async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-earlier:' }, 1);
  const admin = adminClient(t, server.url);
  const flight = flightOn(redis!);
  const token = (await new Lease(redis!).tryAcquire(flight.leaseName('vtrix:again'), 5000)) as string;
  const earlier = { token: 'an-earlier-holder', ok: true, value: { status: 'queued', progress: 0 } };
  await admin.set(flight.outcomeKey('vtrix:again'), JSON.stringify(earlier), 'PX', 5000);
  const { calls, run } = countedCall(10);
  const waiting = flight.execute('vtrix:again', { budgetMs: 3000, leaseMs: 1000, run });
  await sleep(150);
  const current = { token, ok: true, value: { status: 'in_progress', progress: 70 } };
  await admin.publish(flight.channel('vtrix:again'), JSON.stringify(current));
  assert.deepEqual(await waiting, { status: 'in_progress', progress: 70 });
  assert.equal(calls.count, 0);
});

test('a value that does not decode is not trusted: the waiter runs the call itself', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-decode:' }, 1);
  const admin = adminClient(t, server.url);
  const flight = flightOn(redis!);
  const token = (await new Lease(redis!).tryAcquire(flight.leaseName('vtrix:odd'), 5000)) as string;
  const odd = { token, ok: true, value: { status: 'queued', progress: 'lots' } };
  await admin.set(flight.outcomeKey('vtrix:odd'), JSON.stringify(odd), 'PX', 5000);
  const { calls, run } = countedCall(10, { status: 'queued', progress: 5 });
  assert.deepEqual(await flight.execute('vtrix:odd', { budgetMs: 3000, leaseMs: 1000, run }), { status: 'queued', progress: 5 });
  assert.equal(calls.count, 1);
});

test('the holder dies mid-call (its lease runs out, no outcome): one waiter takes over and the others get its value', async (t) => {
  const replicas = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-dead:' }, 3);
  const dead = flightOn(replicas[0]!);
  assert.equal(typeof (await new Lease(replicas[0]!).tryAcquire(dead.leaseName('vtrix:orphan'), 300)), 'string');
  const { calls, run } = countedCall(50, { status: 'succeeded', progress: 100 });
  const started = Date.now();
  const results = await Promise.all(
    replicas.map((replica) => flightOn(replica).execute('vtrix:orphan', { budgetMs: 5000, leaseMs: 1000, run })),
  );
  const elapsed = Date.now() - started;
  assert.equal(calls.count, 1);
  assert.deepEqual(results, Array(3).fill({ status: 'succeeded', progress: 100 }));
  assert.ok(elapsed >= 250, `took over after ${elapsed} ms, before the lease ran out`);
  assert.ok(elapsed < 2000, `took over after ${elapsed} ms`);
});

test('a holder that never finishes: the waiter runs the call itself before its budget ends', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-budget:' }, 1);
  const flight = flightOn(redis!);
  assert.equal(typeof (await new Lease(redis!).tryAcquire(flight.leaseName('vtrix:stuck'), 60_000)), 'string');
  const { calls, run } = countedCall(20, { status: 'in_progress', progress: 10 });
  const started = Date.now();
  // A 4 s budget keeps a quarter (1 s) for the waiter's own call: it gives up waiting at 3 s.
  assert.deepEqual(await flight.execute('vtrix:stuck', { budgetMs: 4000, leaseMs: 1000, run }), { status: 'in_progress', progress: 10 });
  const elapsed = Date.now() - started;
  assert.equal(calls.count, 1);
  // Bounded on the safe sides: it waited (not at once), and answered within its budget, not at the lease's 60 s.
  assert.ok(elapsed >= 2900, `gave up waiting after ${elapsed} ms, long before the reserve point`);
  assert.ok(elapsed < 4000, `answered after ${elapsed} ms, past the 4 s budget`);
});

test('a call longer than its lease keeps it: the holder renews, so nobody takes over', async (t) => {
  const [first, second] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-renew:' }, 2);
  const { calls, run } = countedCall(500);
  const holder = flightOn(first!).execute('vtrix:slow', { budgetMs: 3000, leaseMs: 100, run });
  await sleep(20);
  const waiter = flightOn(second!).execute('vtrix:slow', { budgetMs: 3000, leaseMs: 100, run });
  await Promise.all([holder, waiter]);
  assert.equal(calls.count, 1);
});

test('Redis unavailable: the call just runs', async (t) => {
  const [redis] = await connectReplicas(t, { url: server.url, prefix: 'tg-flight-down:' }, 1);
  redis!.close();
  const { calls, run } = countedCall(5);
  assert.deepEqual(await flightOn(redis!).execute('vtrix:alone', { budgetMs: 3000, leaseMs: 1000, run }), {
    status: 'in_progress',
    progress: 40,
  });
  assert.equal(calls.count, 1);
});
