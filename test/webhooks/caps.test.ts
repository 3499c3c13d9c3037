/**
 * What a client can make the gateway hold through webhooks, and that it stays bounded: a
 * flood of registrations keeps at most `webhooks.maxPerClient` webhooks per client (its
 * oldest ended ones forgotten first), a client whose webhooks are all active is refused
 * with 429, a registration costs the same however many tasks the store holds (counted in
 * entries visited and Redis commands, not time), and the per-task cap is counted per
 * upstream task whatever spelling of its id was used.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Redis } from 'ioredis';
import { FleetRedis } from '../../src/fleet/redis.js';
import { InProcessWebhookStore } from '../../src/webhooks/in-process-store.js';
import { newWebhookId, taskKeyOf, type Registration } from '../../src/webhooks/model.js';
import { RedisWebhookStore } from '../../src/webhooks/redis-store.js';
import type { WebhookStore } from '../../src/webhooks/store.js';
import { adminClient, keysUnder, startRedis, type TestRedis } from '../helpers/redis.js';
import { json } from '../helpers/stack.js';
import { registerWebhook, startWebhookStack } from '../helpers/webhook-stack.js';

const resolveHostname = () => Promise.resolve([{ address: '93.184.215.14', family: 4 }]);

let server: TestRedis | undefined;
after(async () => {
  await server?.stop();
});

function registration(client: string, nativeId: string, options: { terminal?: boolean; maxPerClient?: number } = {}): Registration {
  const terminal = options.terminal ?? false;
  return {
    subscription: {
      id: newWebhookId(),
      taskId: nativeId,
      url: 'https://hooks.example/flood',
      events: ['task.succeeded'],
      createdAt: Date.now(),
      origin: 'https://gateway.example',
      client,
      state: 'active',
      final: false,
      pending: 0,
    },
    provider: 'vtrix',
    nativeId,
    baseline: terminal ? { status: 'failed', progress: null } : { status: 'in_progress', progress: 1 },
    terminal,
    messages: [],
    watchUntil: Date.now() + 60 * 60 * 1000,
    maxPerTask: 10,
    maxSubscriptions: 100_000,
    maxPerClient: options.maxPerClient ?? 1000,
  };
}

/**
 * Fills a store like a busy gateway: `tasks` watched tasks of other clients, one active
 * webhook each, and `client` at its cap of 20 with ended webhooks.
 */
async function busyStore(store: WebhookStore, client: string, tasks: number): Promise<void> {
  for (let index = 0; index < tasks; index++) assert.equal(await store.register(registration(`key:other-${index}`, `task_busy_${index}`)), 'registered');
  for (let index = 0; index < 20; index++) assert.equal(await store.register(registration(client, `task_mine_${index}`, { terminal: true, maxPerClient: 20 })), 'registered');
}

/** The Map and Set entries iterated while `work` runs (synchronously: the in-process store's steps are). */
function entriesVisited(work: () => void): number {
  let visited = 0;
  const counted = <T>(iterator: Iterator<T>): IterableIterator<T> => ({
    next: () => {
      const step = iterator.next();
      if (step.done !== true) visited++;
      return step;
    },
    [Symbol.iterator]() {
      return this;
    },
  });
  const restore: Array<() => void> = [];
  for (const prototype of [Map.prototype, Set.prototype] as unknown as Array<Record<PropertyKey, unknown>>) {
    for (const method of ['entries', 'keys', 'values', Symbol.iterator] as PropertyKey[]) {
      const original = prototype[method] as (this: unknown) => Iterator<unknown>;
      prototype[method] = function (this: unknown) {
        return counted(original.call(this));
      };
      restore.push(() => (prototype[method] = original));
    }
    const forEach = prototype['forEach'] as (this: unknown, callback: (...values: unknown[]) => void) => void;
    prototype['forEach'] = function (this: unknown, callback: (...values: unknown[]) => void) {
      forEach.call(this, (...values: unknown[]) => {
        visited++;
        callback(...values);
      });
    };
    restore.push(() => (prototype['forEach'] = forEach));
  }
  try {
    work();
  } finally {
    for (const undo of restore) undo();
  }
  return visited;
}

/** Commands Redis ran (those of scripts included) for `work`, by INFO commandstats. */
async function commandsRun(admin: Redis, work: () => Promise<unknown>): Promise<number> {
  await admin.config('RESETSTAT');
  await work();
  const stats = await admin.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!/^(info|config|evalsha|eval|ping)/.test(match[1]!)) calls += Number(match[2]);
  }
  return calls;
}

test('in-process: a registration visits as many entries with 3,000 tasks held as with 30', async () => {
  const visits: number[] = [];
  for (const tasks of [30, 3000]) {
    const store = new InProcessWebhookStore();
    await busyStore(store, 'key:alice', tasks);
    // Synchronous inside: the whole step runs while the counters are in place.
    let outcome: Promise<unknown> | undefined;
    visits.push(entriesVisited(() => void (outcome = store.register(registration('key:alice', 'task_measured', { terminal: true, maxPerClient: 20 })))));
    assert.equal(await outcome, 'registered');
    assert.equal(store.size.tasks, tasks + 20, 'the oldest ended webhook made room, and its task went with it');
  }
  assert.equal(visits[1], visits[0], `entries visited with 30 and 3,000 tasks held: ${visits.join(', ')}`);
  assert.ok(visits[0]! < 50, `a registration visits ${visits[0]} entries`);
});

test('redis: a registration runs as many Redis commands with 2,000 tasks held as with 20', async (t) => {
  server ??= await startRedis();
  const admin = adminClient(t, server.url);
  const counts: number[] = [];
  for (const tasks of [20, 2000]) {
    const redis = await FleetRedis.create({ url: server.url, prefix: `caps-cost-${tasks}:`, commandTimeoutMs: 2000 });
    t.after(() => redis.close());
    const store = new RedisWebhookStore(redis);
    await busyStore(store, 'key:alice', tasks);
    counts.push(await commandsRun(admin, async () => assert.equal(await store.register(registration('key:alice', 'task_measured', { terminal: true, maxPerClient: 20 })), 'registered')));
  }
  assert.equal(counts[1], counts[0], `Redis commands with 20 and 2,000 tasks held: ${counts.join(', ')}`);
});

test('redis: a flood of 300 registrations by one client keeps its 50 newest, and the keys of what was forgotten go', async (t) => {
  server ??= await startRedis();
  const admin = adminClient(t, server.url);
  const prefix = 'caps-flood:';
  const redis = await FleetRedis.create({ url: server.url, prefix, commandTimeoutMs: 2000 });
  t.after(() => redis.close());
  const store = new RedisWebhookStore(redis);
  for (let index = 0; index < 300; index++) {
    assert.equal(await store.register(registration('key:flood', `task_flood_${index}`, { terminal: true, maxPerClient: 50 })), 'registered');
  }
  const tasks = (await keysUnder(admin, `${prefix}webhook:task:`)).length;
  assert.equal(tasks, 50, 'one task hash per webhook kept');
  assert.equal(await admin.zcard(`${prefix}webhook:client:key:flood:ended`), 50);
  assert.equal((await store.list([taskKeyOf('vtrix', 'task_flood_249')], 'key:flood')).length, 0, 'an old one is forgotten');
  assert.equal((await store.list([taskKeyOf('vtrix', 'task_flood_250')], 'key:flood')).length, 1, 'the newest 50 are kept');
  assert.ok((await keysUnder(admin, prefix)).length <= 50 + 5, 'nothing else accumulates');
});

test('a flood of registrations over HTTP keeps at most webhooks.maxPerClient per client; when all are active: 429 quota_exceeded', async (t) => {
  const stack = await startWebhookStack(t, { maxPerClient: 40, resolveHostname });
  const store = stack.app.webhooks!.store as InProcessWebhookStore;
  const { vtrix } = stack.simulators;
  for (let index = 0; index < 120; index++) {
    const id = `task_wh_flood_${index}`;
    vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'succeeded' }] });
    // Succeeded, and only task.failed asked: nothing to deliver, so each webhook ends at once.
    const answer = await registerWebhook(stack.app, `vtrix:${id}`, { url: 'https://hooks.example/flood', events: ['task.failed'] });
    assert.equal(answer.statusCode, 201, answer.body);
  }
  assert.deepEqual(store.size, { tasks: 40, webhooks: 40, messages: 0, clients: 1 });
  const newest = await stack.app.inject({ url: '/tasks/vtrix:task_wh_flood_119/webhooks' });
  assert.equal((json(newest).webhooks as unknown[]).length, 1);
  const oldest = await stack.app.inject({ url: '/tasks/vtrix:task_wh_flood_0/webhooks' });
  assert.deepEqual(json(oldest).webhooks, [], 'the oldest ended one was forgotten');

  for (let index = 0; index < 40; index++) {
    const id = `task_wh_running_${index}`;
    vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 1 }] });
    assert.equal((await registerWebhook(stack.app, `vtrix:${id}`, { url: 'https://hooks.example/running' })).statusCode, 201);
  }
  assert.equal(store.size.webhooks, 40, 'the active ones took the places of the ended ones');
  vtrix.setTask('task_wh_running_40', { timeline: [{ atMs: 0, status: 'in_progress', progress: 1 }] });
  const refused = await registerWebhook(stack.app, 'vtrix:task_wh_running_40', { url: 'https://hooks.example/running' });
  assert.equal(refused.statusCode, 429, refused.body);
  assert.equal(json(refused).code, 'quota_exceeded');
  assert.match(String(json(refused).detail), /40 webhooks \(webhooks\.maxPerClient\), all of them active/);
  assert.equal(refused.headers['retry-after'], undefined, 'no time can be promised');
  const other = await stack.app.inject({ method: 'POST', url: '/tasks/vtrix:task_wh_running_40/webhooks', remoteAddress: '198.51.100.7', payload: { url: 'https://hooks.example/running' } });
  assert.equal(other.statusCode, 201, 'another client has its own places');
});

test('the per-task cap (10) is per upstream task: its aliases do not add places', async (t) => {
  const stack = await startWebhookStack(t, { resolveHostname });
  const id = 'task_wh_alias';
  stack.simulators.vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }] });
  for (let index = 0; index < 10; index++) {
    // Half under the bare id, half under the qualified one: both spell the same vtrix task.
    const spelling = index % 2 === 0 ? id : `vtrix:${id}`;
    const answer = await registerWebhook(stack.app, spelling, { url: `https://hooks.example/alias/${index}` });
    assert.equal(answer.statusCode, 201, answer.body);
  }
  for (const spelling of [id, `vtrix:${id}`]) {
    const eleventh = await registerWebhook(stack.app, spelling, { url: 'https://hooks.example/alias/10' });
    assert.equal(eleventh.statusCode, 409, `${spelling}: ${eleventh.body}`);
    assert.equal(json(eleventh).code, 'webhook_limit_reached');
  }
  // Listed under either spelling: they are the webhooks of one task.
  for (const spelling of [id, `vtrix:${id}`]) {
    const listed = await stack.app.inject({ url: `/tasks/${encodeURIComponent(spelling)}/webhooks` });
    assert.equal((json(listed).webhooks as unknown[]).length, 10, spelling);
  }
});
