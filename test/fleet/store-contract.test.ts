/**
 * One contract for both TaskStores: every test below runs against the in-process store and
 * against the Redis store on a real redis-server, so what lookups and poll loops are
 * written against (caches, single flight, poll-loop membership, stats) behaves alike.
 * Where the interface lets them differ (`shared`: only the fleet has a shared layer), the
 * test says which answer each gives.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { InProcessTaskStore } from '../../src/fleet/in-process-store.js';
import { RedisTaskStore } from '../../src/fleet/redis-store.js';
import type { SharedError } from '../../src/fleet/single-flight.js';
import type { Observation, PollMessage, TaskStore } from '../../src/fleet/store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

type Closable = { after(fn: () => Promise<void> | void): void };

interface Implementation {
  name: string;
  create(t: Closable): Promise<TaskStore>;
}

let server: TestRedis | undefined;
let prefixes = 0;

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'in-process',
    create: (t) => {
      const store = new InProcessTaskStore(loadConfig({}));
      t.after(() => store.close());
      return Promise.resolve(store);
    },
  },
  {
    name: 'redis',
    create: async (t) => {
      server ??= await startRedis();
      const config = loadConfig({ REDIS_URL: server.url, TASKGATE_REDIS_PREFIX: `task-contract-${++prefixes}:` });
      // A generous command deadline: these are correctness tests, not a test of a slow Redis.
      const store = await RedisTaskStore.create({ ...config, redis: { ...config.redis, commandTimeoutMs: 1000 } }, { onHealthChange: () => {} });
      t.after(() => store.close());
      return store;
    },
  },
];

after(async () => {
  await server?.stop();
});

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

function observation(status: Observation['state']['status'], fetchedAt = Date.now()): Observation {
  const succeeded = status === 'succeeded';
  return {
    fetchedAt,
    state: {
      provider_task_id: 'task_contract',
      status,
      provider_status: status,
      progress: succeeded ? 100 : 40,
      url: succeeded ? 'https://cdn.example/out.mp4' : null,
      outputs: succeeded ? [{ type: 'video', url: 'https://cdn.example/out.mp4' }] : [],
      error: null,
      model: 'model-1',
      created_at: '2026-12-01T12:00:00Z',
      completed_at: succeeded ? '2026-12-01T12:01:00Z' : null,
      expires_at: null,
    },
  };
}

const NOT_FOUND: SharedError = { code: 'task_not_found', detail: 'vtrix has no task with this id.', provider: 'vtrix' };

for (const implementation of IMPLEMENTATIONS) {
  describe(`TaskStore contract: ${implementation.name}`, () => {
    test('each cache answers what was set, locally at once, and nothing after delete', async (t) => {
      const store = await implementation.create(t);
      const done = observation('succeeded');
      const running = observation('in_progress');
      await store.terminal.set('vtrix:a', done, 60_000);
      await store.fresh.set('vtrix:b', running, 60_000);
      await store.notFound.set('vtrix:c', NOT_FOUND, 60_000);
      await store.routes.set('task_d', 'gravitex', 60_000);
      assert.deepEqual(store.terminal.peekLocal('vtrix:a'), done);
      assert.deepEqual(await store.terminal.get('vtrix:a'), done);
      assert.deepEqual(await store.fresh.get('vtrix:b'), running);
      assert.deepEqual(await store.notFound.get('vtrix:c'), NOT_FOUND);
      assert.equal(await store.routes.get('task_d'), 'gravitex');
      assert.equal(await store.terminal.get('vtrix:b'), undefined, 'the caches are apart');
      assert.equal(await store.terminal.get('vtrix:missing'), undefined);
      assert.ok(store.terminal.localSize >= 1);
      await store.terminal.delete('vtrix:a');
      assert.equal(store.terminal.peekLocal('vtrix:a'), undefined);
      assert.equal(await store.terminal.get('vtrix:a'), undefined);
    });

    test('an entry is gone once its TTL has passed', async (t) => {
      const store = await implementation.create(t);
      await store.fresh.set('vtrix:short', observation('in_progress'), 30);
      await sleep(120);
      assert.equal(store.fresh.peekLocal('vtrix:short'), undefined);
      assert.equal(await store.fresh.get('vtrix:short'), undefined);
    });

    test('hold keeps a value in this process only', async (t) => {
      const store = await implementation.create(t);
      const done = observation('succeeded');
      store.terminal.hold('vtrix:held', done, 60_000);
      assert.deepEqual(store.terminal.peekLocal('vtrix:held'), done);
      assert.deepEqual(await store.terminal.get('vtrix:held'), done);
      assert.equal(await store.findShared('vtrix:held'), undefined, 'the fleet (if any) was not told');
    });

    test('findShared: the fleet layer says which task cache holds a key; in-process there is none', async (t) => {
      const store = await implementation.create(t);
      await store.fresh.set('vtrix:fresh', observation('in_progress'), 60_000);
      await store.notFound.set('vtrix:gone', NOT_FOUND, 60_000);
      await store.terminal.set('vtrix:done', observation('succeeded'), 60_000);
      const found = await Promise.all(['vtrix:fresh', 'vtrix:gone', 'vtrix:done', 'vtrix:none'].map((key) => store.findShared(key)));
      assert.deepEqual(found, store.shared ? ['fresh', 'notFound', 'terminal', undefined] : [undefined, undefined, undefined, undefined]);
    });

    test('singleFlight answers the call\'s value, and throws its error as it was thrown', async (t) => {
      const store = await implementation.create(t);
      const done = observation('succeeded');
      let calls = 0;
      assert.deepEqual(
        await store.singleFlight('vtrix:flight', 2000, () => {
          calls++;
          return Promise.resolve(done);
        }),
        done,
      );
      assert.equal(calls, 1);
      const refused = new GatewayError('task_not_found', { detail: 'vtrix has no task with this id.', provider: 'vtrix' });
      await assert.rejects(
        store.singleFlight('vtrix:flight-error', 2000, () => Promise.reject(refused)),
        (error) => error === refused,
      );
    });

    test('a lone member of a poll loop polls, hears its own messages at once, and nothing once it left', async (t) => {
      const store = await implementation.create(t);
      const heard: PollMessage[] = [];
      const membership = store.join('vtrix:loop', { intervalMs: 60_000, onTick: () => {}, onMessage: (message) => heard.push(message) });
      t.after(() => membership.leave());
      const message: PollMessage = { observation: observation('in_progress') };
      membership.publish(message);
      assert.deepEqual(heard, [message], 'synchronously, the same message');
      // In fleet mode a lone member takes the loop's lease within its first step.
      for (let round = 0; round < 100 && !membership.polls; round++) await sleep(10);
      assert.equal(membership.polls, true);
      membership.leave();
      membership.publish({ observation: observation('succeeded') });
      assert.equal(heard.length, 1);
    });

    test('stats say whether Redis is up (undefined without Redis) and count leases and subscriptions', async (t) => {
      const store = await implementation.create(t);
      const stats = store.stats();
      assert.equal(stats.redisUp, store.shared ? true : undefined);
      for (const count of [stats.pollLeases, stats.flightLeases, stats.subscriptions]) assert.ok(Number.isInteger(count) && count >= 0);
      assert.equal(typeof store.rateLimitOptions(), 'object');
    });
  });
}
