import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { eventually, listen, readEventStream } from '../helpers/http.js';
import { assertProblem } from '../hardening/support.js';
import { json, startStack, withPollInterval } from '../helpers/stack.js';

test('an SSE client sees the first state, every change, the terminal state, then the end', async (t) => {
  const { app, gravitex } = await startStack(t, { configure: (config) => withPollInterval(config, 40) });
  gravitex.setTask('video_sse00000000000000000000000000001', {
    variant: 'wrapped',
    timeline: [
      // Phases far apart compared with the 40 ms poll, so a loaded machine still sees each one.
      { atMs: 0, status: 'queued' },
      { atMs: 400, status: 'in_progress', progress: 30 },
      { atMs: 900, status: 'in_progress', progress: 60 },
      { atMs: 1400, status: 'succeeded' },
    ],
  });
  const base = await listen(app);
  const stream = await readEventStream(`${base}/tasks/video_sse00000000000000000000000000001/events`);
  assert.equal(stream.statusCode, 200);
  assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
  const tasks = stream.events.map((event) => {
    assert.equal(event.event, 'task');
    return JSON.parse(event.data) as { status: string; progress: number | null };
  });
  assert.deepEqual(
    tasks.map((task) => `${task.status}:${task.progress}`),
    ['queued:0', 'in_progress:30', 'in_progress:60', 'succeeded:100'],
  );
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 0));
});

test("each event's id is its state's version, the ETag's opaque part (a running task's weak ETag included)", async (t) => {
  const { app, gravitex } = await startStack(t, { configure: (config) => withPollInterval(config, 40) });
  const id = 'video_sseid0000000000000000000000000001';
  gravitex.setTask(id, { variant: 'wrapped', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }, { atMs: 1500, status: 'succeeded' }] });
  const base = await listen(app);
  const running = await request(`${base}/tasks/${id}`);
  const runningTag = String(running.headers['etag']);
  await running.body.dump();
  assert.match(runningTag, /^W\/"[A-Za-z0-9_-]+"$/);
  const stream = await readEventStream(`${base}/tasks/${id}/events`);
  const done = await request(`${base}/tasks/${id}`);
  const doneTag = String(done.headers['etag']);
  await done.body.dump();
  assert.match(doneTag, /^"[A-Za-z0-9_-]+"$/);
  assert.deepEqual(
    stream.events.map((event) => event.id),
    [runningTag.slice(3, -1), doneTag.slice(1, -1)],
  );
});

test('an SSE stream of a terminal task sends one event and closes', async (t) => {
  const { app } = await startStack(t);
  const base = await listen(app);
  const stream = await readEventStream(`${base}/tasks/video_69095b4ce0048190893a01510c0c98b0/events`);
  assert.equal(stream.events.length, 1);
  assert.equal(JSON.parse(stream.events[0]!.data).status, 'succeeded');
});

test('errors before the stream starts are problem+json', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const missing = await app.inject({ url: '/tasks/vtrix:task_missing9/events' });
  assert.equal(missing.statusCode, 404);
  assert.match(String(missing.headers['content-type']), /^application\/problem\+json/);
  assert.equal(json(missing).code, 'task_not_found');
  const hitsBefore = vtrix.hits() + gravitex.hits();
  const invalid = await app.inject({ url: '/tasks/bad%20id/events' });
  const problem = assertProblem(invalid, 400, 'invalid_task_id');
  assert.match(problem.detail, /1-512 characters/);
  assert.equal(vtrix.hits() + gravitex.hits(), hitsBefore, 'nothing went upstream');
});

test('a task that disappears mid-stream ends it with event: error', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: (config) => withPollInterval(config, 40) });
  vtrix.setTask('task_sse0002', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  const base = await listen(app);
  const reading = readEventStream(`${base}/tasks/task_sse0002/events`);
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 1));
  vtrix.setTask('task_sse0002', { missing: true });
  const stream = await reading;
  assert.deepEqual(stream.events.map((event) => event.event), ['task', 'error']);
  assert.equal(JSON.parse(stream.events[1]!.data).code, 'task_not_found');
});

test('transient upstream errors during a stream are retried quietly', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: (config) => withPollInterval(config, 30) });
  vtrix.setTask('task_sse0003', {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'in_progress', progress: 10 },
      { atMs: 400, status: 'succeeded' },
    ],
  });
  const base = await listen(app);
  const reading = readEventStream(`${base}/tasks/task_sse0003/events`);
  assert.ok(await eventually(() => app.taskService.watcher.pollLoops === 1));
  vtrix.injectFault('task_sse0003', { kind: 'status', status: 500, times: 3 });
  const stream = await reading;
  assert.ok(stream.events.every((event) => event.event === 'task'));
  assert.equal(JSON.parse(stream.events.at(-1)!.data).status, 'succeeded');
});

test('keep-alive comments flow while nothing changes', async (t) => {
  const { app, vtrix } = await startStack(t, {
    configure: (config) => ({ ...withPollInterval(config, 40), waiters: { ...config.waiters, keepAliveMs: 50 } }),
  });
  vtrix.setTask('task_sse0004', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }, { atMs: 300, status: 'succeeded' }] });
  const base = await listen(app);
  const stream = await readEventStream(`${base}/tasks/task_sse0004/events`);
  assert.ok(stream.comments.filter((comment) => comment === 'keep-alive').length >= 2, `comments: ${stream.comments.length}`);
});

test('an SSE client that disconnects is released at once', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: (config) => withPollInterval(config, 40) });
  vtrix.setTask('task_sse0005', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress' }] });
  const base = await listen(app);
  const controller = new AbortController();
  const response = await request(`${base}/tasks/task_sse0005/events`, { signal: controller.signal });
  assert.ok(await eventually(() => app.taskService.watcher.waiters === 1));
  controller.abort();
  await response.body.dump().catch(() => undefined);
  assert.ok(await eventually(() => app.taskService.watcher.waiters === 0 && app.taskService.watcher.pollLoops === 0));
});
