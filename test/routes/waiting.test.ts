/**
 * No polling storm reaches a provider: coalescing, caching, long-poll, one poll loop per
 * task, and clean release of clients that leave. Hit counters on the simulators are the
 * evidence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { eventually, listen } from '../helpers/http.js';
import { json, startStack, withPollInterval } from '../helpers/stack.js';

const FAST_POLL = (config: Parameters<typeof withPollInterval>[0]) => withPollInterval(config, 50);

test('100 concurrent requests for one running task make 1 upstream call', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_storm01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 20 }] });
  vtrix.injectFault('task_storm01', { kind: 'latency', ms: 50 });
  const responses = await Promise.all(Array.from({ length: 100 }, () => app.inject({ url: '/tasks/task_storm01' })));
  assert.ok(responses.every((response) => response.statusCode === 200));
  assert.equal(vtrix.hits('task_storm01'), 1);
});

test('20 sequential requests for a finished task make 1 upstream call', async (t) => {
  const { app, gravitex } = await startStack(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  for (let index = 0; index < 20; index++) {
    const response = await app.inject({ url: `/tasks/${id}` });
    assert.equal(response.statusCode, 200);
  }
  assert.equal(gravitex.hits(id), 1);
});

test('a running answer is reused for at most the fresh window, then asked again', async (t) => {
  // A second of window: the two first asks fall inside it however slow the machine is.
  const { app, vtrix } = await startStack(t, { configure: (config) => ({ ...config, cache: { ...config.cache, freshMs: 1000 } }) });
  vtrix.setTask('task_fresh01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 20 }] });
  await app.inject({ url: '/tasks/task_fresh01' });
  await app.inject({ url: '/tasks/task_fresh01' });
  assert.equal(vtrix.hits('task_fresh01'), 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await app.inject({ url: '/tasks/task_fresh01' });
  assert.equal(vtrix.hits('task_fresh01'), 2);
});

test('?wait holds the request until the task is terminal', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_wait001', {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'in_progress', progress: 10 },
      { atMs: 300, status: 'succeeded' },
    ],
  });
  const response = await app.inject({ url: '/tasks/task_wait001?wait=10' });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).status, 'succeeded');
  assert.equal(response.headers['preference-applied'], undefined);
});

test('Prefer: wait is honoured and says so; the query wins over the header', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_prefer1', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 200, status: 'succeeded' }] });
  const response = await app.inject({ url: '/tasks/task_prefer1', headers: { prefer: 'respond-async, wait=5' } });
  assert.equal(json(response).status, 'succeeded');
  assert.equal(response.headers['preference-applied'], 'wait=5');

  vtrix.setTask('task_prefer2', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 60_000, status: 'succeeded' }] });
  const started = Date.now();
  const queryWins = await app.inject({ url: '/tasks/task_prefer2?wait=0', headers: { prefer: 'wait=30' } });
  assert.equal(json(queryWins).status, 'in_progress');
  assert.ok(Date.now() - started < 5000, 'wait=0 from the query does not hold the request');
});

test('a wait that runs out answers with the latest state', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_wait002', {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'queued' },
      { atMs: 100, status: 'in_progress', progress: 50 },
      { atMs: 60_000, status: 'succeeded' },
    ],
  });
  const response = await app.inject({ url: '/tasks/task_wait002?wait=1' });
  assert.equal(response.statusCode, 200);
  const task = json(response);
  assert.equal(task.status, 'in_progress');
  assert.equal(task.progress, 50);
  assert.equal(app.taskService.watcher.pollLoops, 0, 'the loop stops with its last waiter');
});

test('200 waiters on one task share one poll loop', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: (config) => withPollInterval(config, 100) });
  vtrix.setTask('task_crowd01', {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'in_progress', progress: 10 },
      { atMs: 550, status: 'succeeded' },
    ],
  });
  const waiting = Array.from({ length: 200 }, () => app.inject({ url: '/tasks/task_crowd01?wait=10' }));
  assert.ok(await eventually(() => app.taskService.watcher.waiters === 200));
  assert.equal(app.taskService.watcher.pollLoops, 1);
  const responses = await Promise.all(waiting);
  assert.ok(responses.every((response) => json(response).status === 'succeeded'));
  // One lookup to start, then one poll per 100 ms until the task finished at ~550 ms.
  const hits = vtrix.hits('task_crowd01');
  assert.ok(hits >= 2 && hits <= 9, `upstream calls: ${hits}`);
  assert.equal(app.taskService.watcher.pollLoops, 0);
  assert.equal(app.taskService.watcher.waiters, 0);
});

test('a long-poll client that disconnects leaves no poll loop or waiter behind', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_leave01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }] });
  const base = await listen(app);
  const controller = new AbortController();
  const pending = request(`${base}/tasks/task_leave01?wait=30`, { signal: controller.signal }).catch((error: unknown) => error);
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 1));
  controller.abort();
  await pending;
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 0 && app.taskService.watcher.waiters === 0));
  const hitsAfterLeave = vtrix.hits('task_leave01');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(vtrix.hits('task_leave01'), hitsAfterLeave, 'nobody polls for a client that left');
});

test('a task that disappears while waited on ends the wait with 404', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_gone001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress' }] });
  const waiting = app.inject({ url: '/tasks/task_gone001?wait=10' });
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 1));
  vtrix.setTask('task_gone001', { missing: true });
  const response = await waiting;
  assert.equal(response.statusCode, 404);
  assert.equal(json(response).code, 'task_not_found');
});

test('past the waiter cap a wait gets 503 with Retry-After instead of more memory', async (t) => {
  const { app, vtrix } = await startStack(t, {
    configure: (config) => ({ ...withPollInterval(config, 50), waiters: { ...config.waiters, max: 2 } }),
  });
  vtrix.setTask('task_cap0001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress' }] });
  const held = [app.inject({ url: '/tasks/task_cap0001?wait=1' }), app.inject({ url: '/tasks/task_cap0001?wait=1' })];
  assert.ok(await eventually(() => app.taskService.watcher.waiters === 2));
  const refused = await app.inject({ url: '/tasks/task_cap0001?wait=1' });
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.headers['retry-after'], '5');
  await Promise.all(held);
});

test('on shutdown every waiter is answered with the latest state', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_drain01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 70 }] });
  const waiting = app.inject({ url: '/tasks/task_drain01?wait=60' });
  assert.ok(await eventually(() => app.taskService.watcher.waiters === 1));
  app.taskService.drain();
  const response = await waiting;
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).progress, 70);
});

test('once shutdown has begun, a new wait is answered at once with the latest state', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: FAST_POLL });
  vtrix.setTask('task_drain02', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
  app.taskService.drain();
  const response = await app.inject({ url: '/tasks/task_drain02?wait=60' });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).progress, 40);
  assert.equal(app.taskService.watcher.pollLoops, 0, 'no poll loop is started while draining');
});
