/**
 * One contract for both WebhookStores: every test below runs against the in-process store
 * and against the Redis store on a real redis-server, so the two cannot drift apart (what
 * counts toward a cap, what is kept, when a webhook ends, what a claim holds).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FleetRedis } from '../../src/fleet/redis.js';
import { InProcessWebhookStore } from '../../src/webhooks/in-process-store.js';
import { RedisWebhookStore } from '../../src/webhooks/redis-store.js';
import type { WebhookStore } from '../../src/webhooks/store.js';
import { MAX_ENDED_PER_TASK, newMessageId, newWebhookId, targetOf, taskKeyOf, type Baseline, type ClaimedMessage, type NewMessage, type Registration, type Subscription, type WatchClaim, type WebhookDelivery } from '../../src/webhooks/model.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

type Closable = { after(fn: () => Promise<void> | void): void };

interface Implementation {
  name: string;
  create(t: Closable): Promise<WebhookStore>;
}

let server: TestRedis | undefined;
let prefixes = 0;

const IMPLEMENTATIONS: Implementation[] = [
  { name: 'in-process', create: () => Promise.resolve(new InProcessWebhookStore()) },
  {
    name: 'redis',
    create: async (t) => {
      server ??= await startRedis();
      // A generous command deadline: these are correctness tests, not a test of a slow Redis.
      const redis = await FleetRedis.create({ url: server.url, prefix: `contract-${++prefixes}:`, commandTimeoutMs: 1000 });
      t.after(() => redis.close());
      return new RedisWebhookStore(redis);
    },
  },
];

after(async () => {
  await server?.stop();
});

const ALICE = 'key:alice';
const BOB = 'key:bob';
const RUNNING: Baseline = { status: 'in_progress', progress: 10 };
const SUCCEEDED: Baseline = { status: 'succeeded', progress: 100 };
const LEASE_MS = 60_000;
/** A claim that no receiver's share limits. */
const ANY_TARGET = { perTarget: 1000, busy: {} };

function subscriptionOn(taskId: string, overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: newWebhookId(),
    taskId,
    url: 'https://hooks.example/taskgate',
    events: ['task.succeeded', 'task.failed', 'task.canceled'],
    createdAt: Date.now(),
    origin: 'https://gateway.example',
    client: ALICE,
    state: 'active',
    final: false,
    pending: 0,
    ...overrides,
  };
}

/** Where the store keeps the webhooks of a vtrix task with this native id. */
function keysOf(nativeId: string): string[] {
  return [taskKeyOf('vtrix', nativeId)];
}

function messageFor(subscription: Subscription, event: NewMessage['event'] = 'task.succeeded', nativeId = subscription.taskId): NewMessage {
  return {
    id: newMessageId(),
    webhookId: subscription.id,
    taskKey: taskKeyOf('vtrix', nativeId),
    event,
    url: subscription.url,
    target: targetOf(subscription.url),
    body: `{"type":"${event}","data":{"id":"${subscription.taskId}"}}`,
    createdAt: Date.now(),
  };
}

interface RegisterOptions {
  terminal?: boolean;
  /** The events the registration delivers at once (terminal tasks only). */
  events?: number;
  maxPerTask?: number;
  maxSubscriptions?: number;
  maxPerClient?: number;
  subscription?: Partial<Subscription>;
  /** The vtrix task's native id when `taskId` is another spelling of it. */
  nativeId?: string;
}

/** Registers one webhook on `taskId` (a vtrix task of that native id, unless `nativeId` says). */
async function register(store: WebhookStore, taskId: string, options: RegisterOptions = {}) {
  const subscription = subscriptionOn(taskId, options.subscription);
  const terminal = options.terminal ?? false;
  const nativeId = options.nativeId ?? taskId;
  const messages = Array.from({ length: options.events ?? 0 }, () => messageFor(subscription, 'task.succeeded', nativeId));
  const registration: Registration = {
    subscription,
    provider: 'vtrix',
    nativeId,
    baseline: terminal ? SUCCEEDED : RUNNING,
    terminal,
    messages,
    watchUntil: Date.now() + 60 * 60 * 1000,
    maxPerTask: options.maxPerTask ?? 10,
    maxSubscriptions: options.maxSubscriptions ?? 1000,
    maxPerClient: options.maxPerClient ?? 1000,
  };
  const outcome = await store.register(registration);
  return { outcome, subscription, messages };
}

function delivery(message: ClaimedMessage, statusCode: number | null, nextAttemptAt: number | null = null): WebhookDelivery {
  return {
    event: message.event,
    webhook_id: message.id,
    attempt: message.attempt,
    at: new Date().toISOString(),
    status_code: statusCode,
    error: null,
    next_attempt_at: nextAttemptAt === null ? null : new Date(nextAttemptAt).toISOString(),
  };
}

async function stateOf(store: WebhookStore, taskId: string, webhookId: string) {
  const listed = await store.list(keysOf(taskId), ALICE);
  return listed.find((entry) => entry.subscription.id === webhookId);
}

/** The one claim for `taskId` among the store's claimable watches. */
async function claimOf(store: WebhookStore, taskId: string): Promise<WatchClaim> {
  const claims = await store.claimWatches(100, LEASE_MS);
  const claim = claims.find((candidate) => candidate.taskKey === taskKeyOf('vtrix', taskId));
  assert.ok(claim, `a claim for ${taskId} among ${claims.map((candidate) => candidate.taskKey).join(', ')}`);
  return claim;
}

for (const implementation of IMPLEMENTATIONS) {
  describe(`WebhookStore contract: ${implementation.name}`, () => {
    before(async () => {
      // The Redis server starts once, before the first test needs it.
      if (implementation.name === 'redis') server ??= await startRedis();
    });

    test('a registered webhook is listed, oldest first, active, with an empty log', async (t) => {
      const store = await implementation.create(t);
      const first = await register(store, 'task_list');
      const second = await register(store, 'task_list', { subscription: { createdAt: Date.now() + 1 } });
      assert.equal(first.outcome, 'registered');
      assert.equal(second.outcome, 'registered');
      const listed = await store.list(keysOf('task_list'), ALICE);
      assert.deepEqual(listed.map((entry) => entry.subscription.id), [first.subscription.id, second.subscription.id]);
      for (const entry of listed) {
        assert.equal(entry.subscription.state, 'active');
        assert.deepEqual(entry.deliveries, []);
      }
      assert.deepEqual(await store.list(keysOf('task_other'), ALICE), []);
    });

    test('a webhook is its client\'s: another client neither lists nor ends it', async (t) => {
      const store = await implementation.create(t);
      const alices = await register(store, 'task_owned');
      const bobs = await register(store, 'task_owned', { subscription: { client: BOB } });
      assert.deepEqual((await store.list(keysOf('task_owned'), ALICE)).map((entry) => entry.subscription.id), [alices.subscription.id]);
      assert.deepEqual((await store.list(keysOf('task_owned'), BOB)).map((entry) => entry.subscription.id), [bobs.subscription.id]);
      assert.equal(await store.end(keysOf('task_owned'), alices.subscription.id, BOB, 'deleted'), false);
      assert.equal((await stateOf(store, 'task_owned', alices.subscription.id))?.subscription.state, 'active');
      assert.equal(await store.end(keysOf('task_owned'), alices.subscription.id, ALICE, 'deleted'), true);
      assert.equal((await stateOf(store, 'task_owned', alices.subscription.id))?.subscription.state, 'ended');
    });

    test('at most maxPerTask active webhooks per task; an ended one frees its place', async (t) => {
      const store = await implementation.create(t);
      const created = [];
      for (let index = 0; index < 3; index++) created.push(await register(store, 'task_cap', { maxPerTask: 3 }));
      assert.deepEqual(created.map((entry) => entry.outcome), ['registered', 'registered', 'registered']);
      assert.equal((await register(store, 'task_cap', { maxPerTask: 3 })).outcome, 'task_limit');
      assert.equal((await register(store, 'task_elsewhere', { maxPerTask: 3 })).outcome, 'registered', 'the cap is per task');
      assert.equal(await store.end(keysOf('task_cap'), created[0]!.subscription.id, ALICE, 'deleted'), true);
      assert.equal((await register(store, 'task_cap', { maxPerTask: 3 })).outcome, 'registered');
    });

    test('the per-task cap counts every spelling of the task\'s id, and listing finds them all', async (t) => {
      const store = await implementation.create(t);
      assert.equal((await register(store, 'task_alias', { maxPerTask: 2 })).outcome, 'registered');
      assert.equal((await register(store, 'vtrix:task_alias', { maxPerTask: 2, nativeId: 'task_alias' })).outcome, 'registered');
      assert.equal((await register(store, 'vtrix:task_alias', { maxPerTask: 2, nativeId: 'task_alias' })).outcome, 'task_limit');
      assert.equal((await register(store, 'task_alias', { maxPerTask: 2 })).outcome, 'task_limit');
      const listed = await store.list(keysOf('task_alias'), ALICE);
      assert.deepEqual(listed.map((entry) => entry.subscription.taskId).sort(), ['task_alias', 'vtrix:task_alias']);
      const gravitex = await store.list([taskKeyOf('gravitex', 'task_alias')], ALICE);
      assert.deepEqual(gravitex, [], 'another provider\'s task of that native id is another task');
    });

    test('a client holds at most maxPerClient webhooks, active and ended: its oldest ended ones are forgotten first', async (t) => {
      const store = await implementation.create(t);
      const ended: string[] = [];
      for (let index = 0; index < 3; index++) {
        // A finished task with nothing to deliver: ended at once, one task each.
        const { outcome, subscription } = await register(store, `task_ended_${index}`, { terminal: true, maxPerClient: 4 });
        assert.equal(outcome, 'registered');
        ended.push(subscription.id);
      }
      const active = await register(store, 'task_active', { maxPerClient: 4 });
      assert.equal(active.outcome, 'registered');
      const next = await register(store, 'task_next', { maxPerClient: 4 });
      assert.equal(next.outcome, 'registered', 'the oldest ended one made room');
      assert.deepEqual(await store.list(keysOf('task_ended_0'), ALICE), [], 'forgotten, with its task');
      assert.equal((await stateOf(store, 'task_ended_1', ended[1]!))?.subscription.state, 'ended', 'the others are kept');
      assert.equal((await stateOf(store, 'task_active', active.subscription.id))?.subscription.state, 'active', 'an active one is never forgotten');
      assert.equal(await store.activeCount(ALICE), 2);
    });

    test('webhooks that end within one millisecond are forgotten in the order they ended', async (t) => {
      const store = await implementation.create(t);
      for (let index = 0; index < 8; index++) {
        assert.equal((await register(store, `task_quick_${index}`, { terminal: true, maxPerClient: 4 })).outcome, 'registered');
      }
      const kept = [];
      for (let index = 0; index < 8; index++) if ((await store.list(keysOf(`task_quick_${index}`), ALICE)).length > 0) kept.push(index);
      assert.deepEqual(kept, [4, 5, 6, 7]);
    });

    test('when all of a client\'s webhooks are active, another is refused (client_limit); other clients are not affected', async (t) => {
      const store = await implementation.create(t);
      const held = [];
      for (let index = 0; index < 3; index++) held.push(await register(store, `task_full_${index}`, { maxPerClient: 3 }));
      assert.ok(held.every((entry) => entry.outcome === 'registered'));
      assert.equal((await register(store, 'task_full_3', { maxPerClient: 3 })).outcome, 'client_limit');
      assert.equal((await register(store, 'task_full_3', { maxPerClient: 3, terminal: true })).outcome, 'client_limit', 'even one that would end at once');
      assert.equal((await register(store, 'task_full_3', { maxPerClient: 3, subscription: { client: BOB } })).outcome, 'registered');
      assert.equal(await store.activeCount(ALICE), 3);
      assert.equal(await store.activeCount(BOB), 1);
      assert.equal(await store.end(keysOf('task_full_0'), held[0]!.subscription.id, ALICE, 'deleted'), true);
      assert.equal(await store.activeCount(ALICE), 2);
      assert.equal((await register(store, 'task_full_3', { maxPerClient: 3 })).outcome, 'registered', 'its ended one made room');
      assert.deepEqual(await store.list(keysOf('task_full_0'), ALICE), []);
    });

    test('activeCount counts a client\'s active webhooks only: a webhook that ended leaves the count', async (t) => {
      const store = await implementation.create(t);
      assert.equal(await store.activeCount(ALICE), 0);
      const { subscription } = await register(store, 'task_counted', { terminal: true, events: 1 });
      await register(store, 'task_counted_too');
      await register(store, 'task_not_counted', { terminal: true });
      assert.equal(await store.activeCount(ALICE), 2, 'one with an event pending, one watched');
      const [message] = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.equal(message?.webhookId, subscription.id);
      await store.finishAttempt(message, delivery(message, 200), { kind: 'done' });
      assert.equal(await store.activeCount(ALICE), 1);
      assert.equal(await store.activeCount(BOB), 0);
    });

    test('at most maxSubscriptions active webhooks in all', async (t) => {
      const store = await implementation.create(t);
      assert.equal((await register(store, 'task_a', { maxSubscriptions: 2 })).outcome, 'registered');
      const second = await register(store, 'task_b', { maxSubscriptions: 2 });
      assert.equal(second.outcome, 'registered');
      assert.equal((await register(store, 'task_c', { maxSubscriptions: 2 })).outcome, 'global_limit');
      await store.end(keysOf('task_b'), second.subscription.id, ALICE, 'deleted');
      assert.equal((await register(store, 'task_c', { maxSubscriptions: 2 })).outcome, 'registered');
    });

    test('end: false for an unknown webhook, true again for an ended one, which stays listed as ended', async (t) => {
      const store = await implementation.create(t);
      const { subscription } = await register(store, 'task_end');
      assert.equal(await store.end(keysOf('task_end'), 'wh_unknown', ALICE, 'deleted'), false);
      assert.equal(await store.end(keysOf('task_other'), subscription.id, ALICE, 'deleted'), false, 'not a webhook of that task');
      assert.equal(await store.end(keysOf('task_end'), subscription.id, ALICE, 'deleted'), true);
      assert.equal(await store.end(keysOf('task_end'), subscription.id, ALICE, 'deleted'), true);
      const ended = await stateOf(store, 'task_end', subscription.id);
      assert.equal(ended?.subscription.state, 'ended');
      assert.equal(ended?.subscription.endedReason, 'deleted');
    });

    test(`a task keeps its latest ${MAX_ENDED_PER_TASK} ended webhooks, the one just registered included`, async (t) => {
      const store = await implementation.create(t);
      const ids: string[] = [];
      // Registered on a finished task with no event to deliver: each one ends at once.
      for (let index = 0; index < MAX_ENDED_PER_TASK + 2; index++) {
        const { outcome, subscription } = await register(store, 'task_ended', { terminal: true, subscription: { createdAt: Date.now() + index } });
        assert.equal(outcome, 'registered');
        ids.push(subscription.id);
      }
      const listed = await store.list(keysOf('task_ended'), ALICE);
      assert.ok(listed.every((entry) => entry.subscription.state === 'ended'));
      assert.deepEqual(listed.map((entry) => entry.subscription.id), ids.slice(-MAX_ENDED_PER_TASK));
    });

    test(`ending webhooks also keeps a task's latest ${MAX_ENDED_PER_TASK} ended ones`, async (t) => {
      const store = await implementation.create(t);
      const ids: string[] = [];
      const count = MAX_ENDED_PER_TASK + 3;
      for (let index = 0; index < count; index++) {
        const { subscription } = await register(store, 'task_ending', { maxPerTask: count, subscription: { createdAt: Date.now() + index } });
        ids.push(subscription.id);
      }
      for (const id of ids) assert.equal(await store.end(keysOf('task_ending'), id, ALICE, 'deleted'), true);
      assert.deepEqual((await store.list(keysOf('task_ending'), ALICE)).map((entry) => entry.subscription.id), ids.slice(-MAX_ENDED_PER_TASK));
    });

    test('a terminal task: its events are due at once, and the webhook ends once they are delivered', async (t) => {
      const store = await implementation.create(t);
      const { subscription, messages } = await register(store, 'task_done', { terminal: true, events: 2 });
      assert.equal((await store.claimWatches(100, LEASE_MS)).length, 0, 'nothing to watch');
      const due = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.deepEqual(due.map((message) => message.id).sort(), messages.map((message) => message.id).sort());
      assert.deepEqual(due.map((message) => message.attempt), [1, 1]);
      assert.deepEqual(await store.claimDue(10, LEASE_MS, ANY_TARGET), [], 'claimed messages are not due again while their lease runs');
      assert.equal(await store.finishAttempt(due[0]!, delivery(due[0]!, 200), { kind: 'done' }), true);
      assert.equal((await stateOf(store, 'task_done', subscription.id))?.subscription.state, 'active', 'one event still pending');
      await store.finishAttempt(due[1]!, delivery(due[1]!, 204), { kind: 'done' });
      const ended = await stateOf(store, 'task_done', subscription.id);
      assert.equal(ended?.subscription.state, 'ended');
      assert.equal(ended?.subscription.endedReason, 'finished');
      assert.deepEqual(ended?.deliveries.map((entry) => entry.status_code), [200, 204]);
      assert.deepEqual(await store.queueStats(), { depth: 0, oldestCreatedAt: undefined });
    });

    test('a failed attempt is retried when due, with the next attempt number; releasing does not count one', async (t) => {
      const store = await implementation.create(t);
      const { messages } = await register(store, 'task_retry', { terminal: true, events: 2 });
      const claimed = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.deepEqual(claimed.map((message) => message.attempt), [1, 1]);
      const later = claimed.find((message) => message.id === messages[0]!.id)!;
      const soon = claimed.find((message) => message.id === messages[1]!.id)!;
      const inAMinute = Date.now() + 60_000;
      await store.finishAttempt(later, delivery(later, 500, inAMinute), { kind: 'retry', at: inAMinute });
      await store.finishAttempt(soon, delivery(soon, 503, Date.now()), { kind: 'retry', at: Date.now() });
      const [retried, ...rest] = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.deepEqual(rest, [], 'the other one is not due before its retry time');
      assert.equal(retried?.id, soon.id);
      assert.equal(retried?.attempt, 2);
      const stats = await store.queueStats();
      assert.equal(stats?.depth, 2);
      assert.equal(stats?.oldestCreatedAt, Math.min(...messages.map((message) => message.createdAt)));
      await store.releaseMessages([retried]);
      const [again] = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.equal(again?.id, soon.id);
      assert.equal(again?.attempt, 2, 'the released attempt was not counted');
    });

    test('a claim takes at most perTarget messages per receiver, counting those in flight; the others stay due', async (t) => {
      const store = await implementation.create(t);
      const busy = await register(store, 'task_busy', { terminal: true, events: 3, subscription: { url: 'https://busy.example/hook' } });
      const calm = await register(store, 'task_calm', { terminal: true, events: 1, subscription: { url: 'https://calm.example/hook' } });
      const claimed = await store.claimDue(10, LEASE_MS, { perTarget: 2, busy: { 'https://busy.example': 1 } });
      const byTarget = (messages: readonly ClaimedMessage[], target: string) => messages.filter((message) => message.target === target).length;
      assert.equal(byTarget(claimed, 'https://busy.example'), 1, 'one more than the one in flight');
      assert.equal(byTarget(claimed, 'https://calm.example'), 1, 'the other receiver is not held up');
      assert.equal((await store.claimDue(10, LEASE_MS, { perTarget: 2, busy: { 'https://busy.example': 2 } })).length, 0, 'its share is taken');
      const later = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.deepEqual(later.map((message) => message.target), ['https://busy.example', 'https://busy.example'], 'once it has room');
      assert.equal((await store.queueStats())?.depth, busy.messages.length + calm.messages.length, 'nothing was dropped');
    });

    test('a 410 ends the webhook at once, and its other pending events are dropped unsent', async (t) => {
      const store = await implementation.create(t);
      const { subscription } = await register(store, 'task_gone', { terminal: true, events: 2 });
      const [first] = await store.claimDue(1, LEASE_MS, ANY_TARGET);
      await store.finishAttempt(first!, delivery(first!, 410), { kind: 'gone' });
      const gone = await stateOf(store, 'task_gone', subscription.id);
      assert.equal(gone?.subscription.state, 'ended');
      assert.equal(gone?.subscription.endedReason, 'gone');
      assert.deepEqual(await store.claimDue(10, LEASE_MS, ANY_TARGET), []);
      assert.equal((await store.queueStats())?.depth, 0);
    });

    test('a watched task: one claim at a time, its changes recorded with their events, claimed at once up to the limit', async (t) => {
      const store = await implementation.create(t);
      const { subscription } = await register(store, 'task_watch', { subscription: { events: ['task.updated', 'task.succeeded'] } });
      const other = await register(store, 'task_watch');
      const claim = await claimOf(store, 'task_watch');
      assert.deepEqual(claim.baseline, RUNNING);
      assert.equal(claim.provider, 'vtrix');
      assert.equal(claim.nativeId, 'task_watch');
      assert.deepEqual(claim.subscriptions.map((entry) => entry.id).sort(), [subscription.id, other.subscription.id].sort());
      assert.deepEqual(await store.claimWatches(100, LEASE_MS), [], 'held: nobody else takes it');
      assert.deepEqual(await store.renewWatches([claim], LEASE_MS), []);

      const progress = { status: 'in_progress', progress: 50 } as const;
      const update = messageFor(subscription, 'task.updated');
      const recorded = await store.recordChange(claim, { baseline: progress, terminal: false, messages: [update], finals: [], claim: { max: 0, leaseMs: LEASE_MS } });
      assert.deepEqual(recorded, { outcome: 'recorded', claimed: [] });
      const [due] = await store.claimDue(10, LEASE_MS, ANY_TARGET);
      assert.equal(due?.id, update.id);
      await store.finishAttempt(due, delivery(due, 200), { kind: 'done' });

      const reloaded = await store.reloadWatch(claim);
      assert.ok(reloaded !== undefined && reloaded !== 'unavailable');
      assert.deepEqual(reloaded.baseline, progress);
      const finished = [messageFor(subscription, 'task.updated'), messageFor(subscription), messageFor(other.subscription)];
      const terminal = await store.recordChange(reloaded, {
        baseline: SUCCEEDED,
        terminal: true,
        messages: finished,
        finals: [subscription.id, other.subscription.id],
        claim: { max: 2, leaseMs: LEASE_MS },
      });
      assert.equal(terminal.outcome, 'recorded');
      assert.deepEqual(terminal.outcome === 'recorded' ? terminal.claimed.map((message) => [message.id, message.attempt]) : [], [
        [finished[0]!.id, 1],
        [finished[1]!.id, 1],
      ]);
      assert.deepEqual((await store.claimDue(10, LEASE_MS, ANY_TARGET)).map((message) => message.id), [finished[2]!.id], 'the one not claimed is due');
      assert.deepEqual(await store.claimWatches(100, LEASE_MS), [], 'a terminal task is no longer watched');
      const listed = await store.list(keysOf('task_watch'), ALICE);
      for (const entry of listed) {
        assert.equal(entry.subscription.state, 'active', 'its events are still pending');
        assert.equal(entry.subscription.final, true);
      }
    });

    test('a change recorded against an older version is stale; reloading gives the current webhooks', async (t) => {
      const store = await implementation.create(t);
      await register(store, 'task_stale');
      const claim = await claimOf(store, 'task_stale');
      const added = await register(store, 'task_stale');
      const stale = await store.recordChange(claim, { baseline: SUCCEEDED, terminal: true, messages: [], finals: [], claim: { max: 0, leaseMs: LEASE_MS } });
      assert.deepEqual(stale, { outcome: 'stale' });
      const reloaded = await store.reloadWatch(claim);
      assert.ok(reloaded !== undefined && reloaded !== 'unavailable');
      assert.notEqual(reloaded.version, claim.version);
      assert.ok(reloaded.subscriptions.some((entry) => entry.id === added.subscription.id));
    });

    test('a released watch is claimable again after its delay; a finished one is lost to its holder and ends its webhooks', async (t) => {
      const store = await implementation.create(t);
      const { subscription } = await register(store, 'task_release');
      const claim = await claimOf(store, 'task_release');
      await store.releaseWatches([claim], 0);
      const reclaimed = await claimOf(store, 'task_release');
      await store.releaseWatches([reclaimed], 60_000);
      assert.deepEqual(await store.claimWatches(100, LEASE_MS), [], 'not before its delay');
      assert.equal((await stateOf(store, 'task_release', subscription.id))?.subscription.state, 'active');
      const finished = await register(store, 'task_finished');
      const watched = await claimOf(store, 'task_finished');
      await store.finishWatch(watched, 'expired');
      assert.deepEqual(await store.recordChange(watched, { baseline: SUCCEEDED, terminal: true, messages: [], finals: [], claim: { max: 0, leaseMs: LEASE_MS } }), { outcome: 'lost' });
      assert.equal(await store.reloadWatch(watched), undefined);
      const ended = await stateOf(store, 'task_finished', finished.subscription.id);
      assert.equal(ended?.subscription.state, 'ended');
      assert.equal(ended?.subscription.endedReason, 'expired');
    });

    test('an ended webhook gets nothing more: its pending events are dropped, and a change no longer carries it', async (t) => {
      const store = await implementation.create(t);
      const { subscription } = await register(store, 'task_deleted');
      const kept = await register(store, 'task_deleted');
      await store.end(keysOf('task_deleted'), subscription.id, ALICE, 'deleted');
      const claim = await claimOf(store, 'task_deleted');
      assert.deepEqual(claim.subscriptions.map((entry) => entry.id), [kept.subscription.id]);
    });
  });
}
