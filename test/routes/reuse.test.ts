/**
 * Behaviour under load (docs/operations.md): a running task's answer is reused until the provider's
 * cadence has passed since it was fetched (`cache.freshMs` only shortens that); a reused
 * answer carries `Age` and a `poll_after_ms` counting down to the next refresh, so a client
 * that follows it asks right after new data can exist. Simulator hit counters are the evidence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskSchema } from '../../schemas/task.js';
import { startStack, withPollInterval } from '../helpers/stack.js';

const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

test('a running answer is reused until the cadence has passed, with Age and a countdown', async (t) => {
  // Windows bounded on the safe side only: vtrix's cadence is long enough that a late timer
  // on a loaded machine still finds the answer reused; gravitex's short enough to be over.
  const { app, vtrix, gravitex } = await startStack(t, {
    configure: (config) => {
      const providers = { ...config.providers, vtrix: { ...config.providers.vtrix!, pollIntervalMs: 10_000 }, gravitex: { ...config.providers.gravitex!, pollIntervalMs: 300 } };
      return { ...config, providers };
    },
  });
  vtrix.setTask('task_reuse01', { variant: 'model', timeline: RUNNING });
  const fetched = await app.inject({ url: '/tasks/task_reuse01' });
  const fetchedAt = Date.now();
  assert.equal(fetched.statusCode, 200);
  assert.equal(TaskSchema.parse(JSON.parse(fetched.body)).poll_after_ms, 10_000, 'a fresh answer shows the whole cadence');
  assert.equal(fetched.headers.age, undefined, 'a fresh answer has no Age');

  await sleep(1100);
  const reused = await app.inject({ url: '/tasks/task_reuse01' });
  const elapsed = Date.now() - fetchedAt;
  assert.equal(vtrix.hits('task_reuse01'), 1, 'reused, not asked again');
  assert.ok(Number(reused.headers.age) >= 1 && Number(reused.headers.age) <= Math.ceil(elapsed / 1000), `Age ${String(reused.headers.age)} after ${elapsed} ms`);
  const countdown = TaskSchema.parse(JSON.parse(reused.body)).poll_after_ms!;
  assert.ok(countdown > 0 && countdown <= 10_000 - 1100 + 100, `countdown ${countdown} ms after ${elapsed} ms`);
  assert.equal(countdown % 100, 0, 'rounded up to a 100-ms step');
  // Only the countdown differs: the validator is the same (weak) one, so If-None-Match still answers 304.
  assert.match(String(reused.headers.etag), /^W\/"[^"]+"$/);
  assert.equal(reused.headers.etag, fetched.headers.etag);
  const unchanged = await app.inject({ url: '/tasks/task_reuse01', headers: { 'if-none-match': String(fetched.headers.etag) } });
  assert.equal(unchanged.statusCode, 304);

  const id = 'video_reuse0100000000000000000000000000';
  gravitex.setTask(id, { variant: 'wrapped', timeline: RUNNING });
  await app.inject({ url: `/tasks/${id}` });
  await sleep(400);
  const refreshed = await app.inject({ url: `/tasks/${id}` });
  assert.equal(gravitex.hits(id), 2, 'asked again once the cadence passed');
  assert.equal(refreshed.headers.age, undefined);
  assert.equal(TaskSchema.parse(JSON.parse(refreshed.body)).poll_after_ms, 300);
});

test('a client that follows poll_after_ms asks right after each refresh: every answer it gets is new', async (t) => {
  const CADENCE = 1000;
  const { app, vtrix } = await startStack(t, { configure: (config) => withPollInterval(config, CADENCE) });
  vtrix.setTask('task_reuse02', { variant: 'model', timeline: RUNNING });
  // A second client polls every 50 ms, so the reuse window is always warm when the follower asks.
  let storming = true;
  const storm = (async () => {
    while (storming) {
      await app.inject({ url: '/tasks/task_reuse02' });
      await sleep(50);
    }
  })();
  await sleep(120);
  const countdowns: number[] = [];
  for (let round = 0; round < 5; round++) {
    const answer = await app.inject({ url: '/tasks/task_reuse02' });
    const countdown = TaskSchema.parse(JSON.parse(answer.body)).poll_after_ms!;
    countdowns.push(countdown);
    await sleep(countdown);
  }
  storming = false;
  await storm;
  // After the first (a reused answer somewhere in its window), the follower lands just after
  // each refresh, so it is told to wait (nearly) a whole cadence again, never a short remainder
  // (half a cadence of slack: a loaded machine's timers fire late).
  for (const countdown of countdowns.slice(1)) assert.ok(countdown >= CADENCE / 2, `countdowns ${countdowns.join(', ')}`);
  const calls = vtrix.hits('task_reuse02');
  const cadences = 120 / CADENCE + countdowns.reduce((sum, countdown) => sum + countdown, 0) / CADENCE;
  assert.ok(calls <= Math.ceil(cadences) + 2, `${calls} upstream calls in about ${cadences.toFixed(1)} cadences`);
});

test('cache.freshMs shortens the reuse window but not the countdown clients get', async (t) => {
  const { app, vtrix } = await startStack(t, {
    configure: (config) => ({ ...withPollInterval(config, 10_000), cache: { ...config.cache, freshMs: 1000 } }),
  });
  vtrix.setTask('task_reuse03', { variant: 'model', timeline: RUNNING });
  await app.inject({ url: '/tasks/task_reuse03' });
  await app.inject({ url: '/tasks/task_reuse03' });
  assert.equal(vtrix.hits('task_reuse03'), 1);
  await sleep(1100);
  const again = await app.inject({ url: '/tasks/task_reuse03' });
  assert.equal(vtrix.hits('task_reuse03'), 2);
  assert.equal(TaskSchema.parse(JSON.parse(again.body)).poll_after_ms, 10_000);
});

test('a terminal answer keeps its strong ETag and carries no Age', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_reuse04', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  await app.inject({ url: '/tasks/task_reuse04' });
  await sleep(1050);
  const cached = await app.inject({ url: '/tasks/task_reuse04' });
  assert.equal(vtrix.hits('task_reuse04'), 1);
  assert.match(String(cached.headers.etag), /^"[^"]+"$/);
  assert.equal(cached.headers.age, undefined, 'Age would make browsers drop it before its max-age');
});
