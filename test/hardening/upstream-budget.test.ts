/**
 * A provider's upstream budget (`providers.<name>.maxRequestsPerSecond`), shared by client
 * lookups and the poll loops that serve waits, streams and webhooks: background polls
 * wait their turn within four fifths of it and half the provider's connections, a client's
 * lookup goes at once whatever waits, a thinly spread budget polls each watched task less
 * often and says so in `poll_after_ms`, and background failures never open a circuit.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LocalBudgetCounter, UpstreamBudget, type BudgetRelease } from '../../src/upstream/budget.js';
import type { Config } from '../../src/settings/schema.js';
import { TaskSchema } from '../../schemas/task.js';
import { eventually } from '../helpers/http.js';
import { json, startStack, withPollInterval } from '../helpers/stack.js';

/** Lets the budget's pump run what it can (it awaits its counter between turns). */
async function settle(): Promise<void> {
  for (let round = 0; round < 20; round++) await new Promise((resolve) => setImmediate(resolve));
}

/** A turn that is refused when it should have been granted: the rejection fails the test. */
const failed = (error: unknown): never => {
  throw error;
};

describe('UpstreamBudget', () => {
  test('hands background turns out at four fifths of the budget per second, in order; client requests go at once and leave less', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const counter = new LocalBudgetCounter();
    const budget = new UpstreamBudget({ perSecond: 10, counter, connections: 128 });
    assert.equal(budget.backgroundPerSecond, 8);
    const granted: number[] = [];
    for (let index = 0; index < 20; index++) budget.background().then((release) => (granted.push(index), release()), failed);
    await settle();
    assert.deepEqual(granted, [0, 1, 2, 3, 4, 5, 6, 7], 'the first 8, in order');
    assert.equal(budget.waiting, 12);
    // Client lookups in the next second are never held back, and background gets what is left.
    t.mock.timers.tick(1000);
    budget.spend(5);
    t.mock.timers.tick(20);
    await settle();
    assert.equal(granted.length, 11, '5 client requests + 3 background = 8');
    t.mock.timers.tick(1000);
    await settle();
    assert.equal(granted.length, 19);
    t.mock.timers.tick(1000);
    await settle();
    assert.equal(granted.length, 20);
    assert.equal(budget.waiting, 0);
  });

  test('background polls use at most half of the provider\'s connections at once', async () => {
    const budget = new UpstreamBudget({ perSecond: 1000, counter: new LocalBudgetCounter(), connections: 4 });
    const releases: BudgetRelease[] = [];
    for (let index = 0; index < 5; index++) budget.background().then((release) => releases.push(release), failed);
    await settle();
    assert.equal(releases.length, 2);
    releases[0]!();
    await settle();
    assert.equal(releases.length, 3);
    releases[0]!();
    assert.equal(releases.length, 3, 'a release given twice frees one slot');
    for (const release of releases.slice(1)) release();
    await settle();
    assert.equal(releases.length, 5);
  });

  test('a poll that stops leaves the queue at once, and a thin budget spreads the watched tasks out', async () => {
    const budget = new UpstreamBudget({ perSecond: 50, counter: new LocalBudgetCounter(), connections: 2 });
    const held: BudgetRelease[] = [];
    budget.background().then((release) => held.push(release), failed);
    await settle();
    const stop = new AbortController();
    const waiting = budget.background(stop.signal);
    assert.equal(budget.waiting, 1);
    stop.abort();
    await assert.rejects(waiting);
    assert.equal(budget.waiting, 0);
    held[0]!();
    // 5,000 watched tasks on a budget of 50 (40 for background): each every 125 s at best.
    assert.equal(budget.backgroundIntervalMs(5000), 125_000);
    assert.ok(budget.backgroundIntervalMs(10) < 1000);
  });
});

const RUNNING = { variant: 'model' as const, timeline: [{ atMs: 0, status: 'in_progress' as const, progress: 10 }] };
const WATCHED = 60;

function budgeted(perSecond: number, pollIntervalMs: number) {
  return (config: Config): Config => {
    const polled = withPollInterval(config, pollIntervalMs);
    const providers = Object.fromEntries(Object.entries(polled.providers).map(([name, settings]) => [name, { ...settings, maxRequestsPerSecond: perSecond }]));
    return { ...polled, providers };
  };
}

test('watched tasks poll within the budget, a client\'s lookup goes at once, and poll_after_ms says the real cadence', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: budgeted(10, 100) });
  const ids = Array.from({ length: WATCHED }, (_, index) => `task_bud${String(index).padStart(4, '0')}`);
  for (const id of ids) vtrix.setTask(id, RUNNING);
  vtrix.setTask('task_budclient', RUNNING);
  // 60 running tasks at a 100 ms cadence want 600 calls a second; the budget allows 10 (8 of them for polling).
  const waits = ids.map((id, index) => app.inject({ url: `/tasks/${id}?wait=5`, remoteAddress: `198.51.100.${index}` }));
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === WATCHED, 5000));
  const hitsWhenAllWatched = new Map(ids.map((id) => [id, vtrix.hits(id)]));
  const client = app.taskService.lookup.client('vtrix');
  assert.ok(await eventually(() => client.budget.waiting > 0, 5000), 'background polls queue up for the budget');
  const watchedHits = () => ids.reduce((sum, id) => sum + vtrix.hits(id), 0);
  const startHits = watchedHits();
  const startedAt = Date.now();

  // A client's lookup of another task is answered while the polls queue, with its own call.
  const lookup = await app.inject({ url: '/tasks/task_budclient' });
  assert.equal(lookup.statusCode, 200);
  assert.equal(vtrix.hits('task_budclient'), 1);
  assert.ok(client.budget.waiting > 0, 'the polls were still waiting for their turn');

  await new Promise((resolve) => setTimeout(resolve, 2500));
  const polls = watchedHits() - startHits;
  const seconds = Math.ceil((Date.now() - startedAt) / 1000) + 1;
  assert.ok(polls <= 8 * seconds, `${polls} background polls in about ${seconds} s: at most 8 a second`);
  assert.ok(polls > 0, 'polling goes on, only less often');

  // A task polled since all 60 were watched: its answer says when it is really refreshed,
  // far past the 100 ms cadence, and a client following that countdown costs no call.
  const polled = ids.find((id) => vtrix.hits(id) > hitsWhenAllWatched.get(id)!);
  assert.ok(polled !== undefined);
  const hitsBefore = vtrix.hits(polled);
  const task = TaskSchema.parse(json(await app.inject({ url: `/tasks/${polled}` })));
  assert.equal(vtrix.hits(polled), hitsBefore, 'answered from the poll\'s answer, no call of its own');
  assert.ok(task.poll_after_ms !== null && task.poll_after_ms > 1000, `poll_after_ms ${task.poll_after_ms}`);
  for (const response of await Promise.all(waits)) assert.equal(response.statusCode, 200);
  assert.ok(await eventually(() => client.budget.waiting === 0 && app.taskService.watcher.pollLoops === 0));
});

test('the gateway\'s own polling never opens a provider\'s circuit; client lookups still do', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { CIRCUIT_FAILURE_THRESHOLD: '2', UPSTREAM_TIMEOUT_MS: '2000' }, configure: budgeted(1000, 50) });
  vtrix.setTask('task_budfail1', RUNNING);
  vtrix.setTask('task_budfail2', RUNNING);
  const client = app.taskService.lookup.client('vtrix');
  const waits = [app.inject({ url: '/tasks/task_budfail1?wait=3' }), app.inject({ url: '/tasks/task_budfail2?wait=3' })];
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 2));
  // Every poll from now on fails (with the retries each makes): far more than the threshold.
  vtrix.injectFault('task_budfail1', { kind: 'status', status: 500 });
  vtrix.injectFault('task_budfail2', { kind: 'status', status: 500 });
  const failing = vtrix.hits('task_budfail1') + vtrix.hits('task_budfail2');
  assert.ok(await eventually(() => vtrix.hits('task_budfail1') + vtrix.hits('task_budfail2') >= failing + 12, 5000), 'the loops kept polling');
  assert.equal(client.circuitState, 'closed', 'background failures do not count');
  await Promise.all(waits);
  // A client lookup that joins a poll still in flight shares its answer, and a background
  // failure stays uncounted: the control starts once the loops and their calls are done.
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 0 && app.taskService.lookup.sizes.inFlight === 0, 5000));
  // The control: two failed client lookups open it.
  for (const id of ['task_budfail1', 'task_budfail2']) assert.equal((await app.inject({ url: `/tasks/${id}` })).statusCode, 502);
  assert.equal(client.circuitState, 'open');
});
