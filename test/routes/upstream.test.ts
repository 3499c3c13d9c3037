/**
 * The upstream client's policy seen from the outside: retries, deadline, size cap.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startStack } from '../helpers/stack.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];

test('two 503s then an answer: the client retries and the caller gets a 200', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_flaky01', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_flaky01', { kind: 'status', status: 503, times: 2 });
  const response = await app.inject({ url: '/tasks/task_flaky01' });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).status, 'succeeded');
  assert.equal(vtrix.hits('task_flaky01'), 3);
});

test('a reset connection is retried', async (t) => {
  const { app, gravitex } = await startStack(t);
  gravitex.setTask('video_reset0000000000000000000000000000', { variant: 'documented', timeline: DONE });
  gravitex.injectFault('video_reset0000000000000000000000000000', { kind: 'reset', times: 1 });
  const response = await app.inject({ url: '/tasks/video_reset0000000000000000000000000000' });
  assert.equal(response.statusCode, 200);
  assert.equal(gravitex.hits('video_reset0000000000000000000000000000'), 2);
});

test('a short 429 (Retry-After: 1) is retried rather than surfaced', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_short429', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_short429', { kind: 'rate_limit', retryAfter: 1, times: 1 });
  const response = await app.inject({ url: '/tasks/task_short429' });
  assert.equal(response.statusCode, 200);
  assert.equal(vtrix.hits('task_short429'), 2);
});

test('retries never run past the deadline: a backoff that would end past it is not started', async (t) => {
  // The shortest backoff is 50 ms: under a 40 ms budget no retry fits, whatever the jitter.
  const tight = await startStack(t, { env: { UPSTREAM_TIMEOUT_MS: '40' } });
  tight.vtrix.injectFault('task_slow500', { kind: 'status', status: 500 });
  const response = await tight.app.inject({ url: '/tasks/task_slow500' });
  // The 500 as a 502; on a loaded machine the one call may itself outlast 40 ms (a 504).
  // Either way, one call: no retry was started.
  assert.ok(
    (response.statusCode === 502 && json(response).code === 'upstream_error') || (response.statusCode === 504 && json(response).code === 'upstream_timeout'),
    response.body,
  );
  assert.equal(tight.vtrix.hits('task_slow500'), 1, 'no retry was started past the deadline');
  // The control: with a budget the schedule fits in, both retries are made.
  const roomy = await startStack(t, { env: { UPSTREAM_TIMEOUT_MS: '5000' } });
  roomy.vtrix.injectFault('task_slow500', { kind: 'status', status: 500 });
  assert.equal((await roomy.app.inject({ url: '/tasks/task_slow500' })).statusCode, 502);
  assert.equal(roomy.vtrix.hits('task_slow500'), 3);
});

test('a body just under the cap is accepted', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_big0001', {
    raw: {
      status: 200,
      body: {
        id: 'task_big0001',
        status: 'in_progress',
        progress: 0.5,
        metadata: { padding: 'x'.repeat(900 * 1024) },
      },
    },
  });
  const response = await app.inject({ url: '/tasks/task_big0001' });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).progress, 50);
});
