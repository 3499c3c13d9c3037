/**
 * `limits.watchesPerClient`: one client (its key; its address when the gateway is open)
 * holds at most that many watched tasks at once, its waits and SSE streams together (and
 * its active webhooks, through the quota's sources); past it 429 quota_exceeded, naming
 * the cap, with Retry-After when one of its waits ends in time. Other clients are not
 * held back, and a place comes back when its wait or stream ends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { clientOfAddress, clientOfKey } from '../../src/client-identity.js';
import type { Config } from '../../src/settings/schema.js';
import { eventually, listen } from '../helpers/http.js';
import { startStack, withPollInterval } from '../helpers/stack.js';
import { startReceiver } from '../helpers/receiver.js';
import { registerWebhook, startWebhookStack } from '../helpers/webhook-stack.js';
import { assertProblem, header } from './support.js';

const KEYS = { TASKGATE_API_KEYS: 'watcher-key-one-0123456789,watcher-key-two-0123456789' };
const ONE = { authorization: 'Bearer watcher-key-one-0123456789' };
const TWO = { authorization: 'Bearer watcher-key-two-0123456789' };
const KEY_ONE = clientOfKey('watcher-key-one-0123456789');
const KEY_TWO = clientOfKey('watcher-key-two-0123456789');
const RUNNING = { variant: 'model' as const, timeline: [{ atMs: 0, status: 'in_progress' as const, progress: 10 }] };
const capOf = (watches: number) => (config: Config): Config => ({ ...withPollInterval(config, 200), limits: { watchesPerClient: watches } });

test('a client holds at most limits.watchesPerClient waits and streams together; past it 429 quota_exceeded, with Retry-After from its soonest wait', async (t) => {
  const { app, vtrix } = await startStack(t, { env: KEYS, configure: capOf(3) });
  for (const id of ['task_wq0001', 'task_wq0002', 'task_wq0003', 'task_wq0004']) vtrix.setTask(id, RUNNING);
  const base = await listen(app);
  const agent = new Agent({ connections: 16 });
  t.after(() => agent.destroy());
  const watches = () => app.taskService.watches;
  const waitOne = new AbortController();
  const waits = [
    request(`${base}/tasks/task_wq0001?wait=20`, { dispatcher: agent, headers: ONE, signal: waitOne.signal }).catch(() => undefined),
    request(`${base}/tasks/task_wq0002?wait=40`, { dispatcher: agent, headers: ONE }).catch(() => undefined),
  ];
  const stream = await request(`${base}/tasks/task_wq0003/events`, { dispatcher: agent, headers: ONE });
  assert.equal(stream.statusCode, 200);
  assert.ok(await eventually(() => watches().heldBy(KEY_ONE) === 3), `held ${watches().heldBy(KEY_ONE)}`);

  for (const path of ['/tasks/task_wq0004?wait=10', '/tasks/task_wq0004/events', '/tasks/task_wq0001?wait=5']) {
    const refused = await app.inject({ url: path, headers: ONE });
    const problem = assertProblem(refused, 429, 'quota_exceeded');
    assert.match(problem.detail, /3 watched tasks.*limits\.watchesPerClient/, problem.detail);
    const retryAfter = Number(header(refused, 'retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}: the 20 s wait ends first`);
  }
  // A plain lookup holds nothing, and another client is not held back.
  assert.equal((await app.inject({ url: '/tasks/task_wq0004', headers: ONE })).statusCode, 200);
  const other = app.inject({ url: '/tasks/task_wq0004?wait=1', headers: TWO });
  assert.ok(await eventually(() => watches().heldBy(KEY_TWO) === 1));
  assert.equal((await other).statusCode, 200);

  // A stream that ends and a wait that is abandoned give their places back.
  stream.body.destroy();
  waitOne.abort();
  assert.ok(await eventually(() => watches().heldBy(KEY_ONE) === 1), `held ${watches().heldBy(KEY_ONE)}`);
  const again = app.inject({ url: '/tasks/task_wq0004?wait=1', headers: ONE });
  assert.ok(await eventually(() => watches().heldBy(KEY_ONE) === 2));
  assert.equal((await again).statusCode, 200);
  await agent.destroy();
  await Promise.all(waits);
  assert.ok(await eventually(() => watches().total === 0 && watches().clients === 0), 'nothing is left once every client left');
});

test('an open gateway counts each address on its own', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: capOf(1) });
  vtrix.setTask('task_wq0101', RUNNING);
  const held = app.inject({ url: '/tasks/task_wq0101?wait=1', remoteAddress: '192.0.2.1' });
  assert.ok(await eventually(() => app.taskService.watches.heldBy(clientOfAddress('192.0.2.1')) === 1));
  assertProblem(await app.inject({ url: '/tasks/task_wq0101?wait=1', remoteAddress: '192.0.2.1' }), 429, 'quota_exceeded');
  const elsewhere = await app.inject({ url: '/tasks/task_wq0101?wait=1', remoteAddress: '192.0.2.2' });
  assert.equal(elsewhere.statusCode, 200);
  assert.equal((await held).statusCode, 200);
});

test('active webhooks count toward the same cap: registering one, or a stream past it, is 429', async (t) => {
  const target = (await startReceiver(t)).url;
  const stack = await startWebhookStack(t, { watchesPerClient: 3 });
  const { app } = stack;
  const { vtrix } = stack.simulators;
  for (const id of ['task_wq0201', 'task_wq0202', 'task_wq0203']) vtrix.setTask(id, RUNNING);
  vtrix.setTask('task_wq0209', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  const me = clientOfAddress('127.0.0.1');
  for (const id of ['task_wq0201', 'task_wq0202']) {
    const registered = await registerWebhook(app, id, { url: `${target}/hook` });
    assert.equal(registered.statusCode, 201, registered.body);
  }
  const held = app.inject({ url: '/tasks/task_wq0203?wait=2' });
  assert.ok(await eventually(() => app.taskService.watches.heldBy(me) === 1));
  // Two active webhooks and a wait: the cap of 3 is reached.
  const third = assertProblem(await registerWebhook(app, 'task_wq0203', { url: `${target}/hook` }), 429, 'quota_exceeded');
  assert.match(third.detail, /limits\.watchesPerClient/);
  const stream = assertProblem(await app.inject({ url: '/tasks/task_wq0203/events' }), 429, 'quota_exceeded');
  assert.match(stream.detail, /3 watched tasks.*limits\.watchesPerClient/);
  // A webhook on a finished task ends at once: it holds no place, so it is taken.
  assert.equal((await registerWebhook(app, 'task_wq0209', { url: `${target}/hook`, events: ['task.failed'] })).statusCode, 201);
  // Another client (address) has its own places.
  const other = await app.inject({ method: 'POST', url: '/tasks/task_wq0203/webhooks', remoteAddress: '192.0.2.9', payload: { url: `${target}/hook` } });
  assert.equal(other.statusCode, 201, other.body);
  assert.equal((await held).statusCode, 200);
  // The wait ended: room for one more watched task again.
  assert.equal((await registerWebhook(app, 'task_wq0203', { url: `${target}/hook` })).statusCode, 201);
});
