/**
 * The gateway's own rate limit (TASKGATE_RATE_LIMIT per minute): per client key when keys
 * are required, per IP when open; 429 rate_limited with Retry-After and the usual
 * X-RateLimit-* headers; 0 turns it off; operations endpoints are never limited.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startStack } from '../helpers/stack.js';
import { assertProblem, header, metricValue } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const ID = '/tasks/vtrix:task_rl0001';

test('the 4th request in a minute with a limit of 3 is a 429 rate_limited', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_RATE_LIMIT: '3' } });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  for (let index = 0; index < 3; index++) {
    const response = await app.inject({ url: ID });
    assert.equal(response.statusCode, 200);
    assert.equal(header(response, 'x-ratelimit-limit'), '3');
    assert.equal(header(response, 'x-ratelimit-remaining'), String(2 - index));
    assert.ok(Number(header(response, 'x-ratelimit-reset')) > 0);
  }
  const hitsBefore = vtrix.hits();
  const limited = await app.inject({ url: ID });
  const problem = assertProblem(limited, 429, 'rate_limited');
  const retryAfter = Number(header(limited, 'retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${header(limited, 'retry-after')}`);
  assert.equal(header(limited, 'x-ratelimit-limit'), '3');
  assert.equal(header(limited, 'x-ratelimit-remaining'), '0');
  assert.ok(Number(header(limited, 'x-ratelimit-reset')) > 0);
  assert.match(problem.detail, /3 requests per minute/);
  // Long-poll and SSE share the bucket, and a limited request costs no provider call.
  assertProblem(await app.inject({ url: `${ID}?wait=5` }), 429, 'rate_limited');
  assertProblem(await app.inject({ url: `${ID}/events` }), 429, 'rate_limited');
  assert.equal(vtrix.hits(), hitsBefore);
});

test('with client keys, each key has its own bucket', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_RATE_LIMIT: '2', TASKGATE_API_KEYS: 'key-one,key-two' } });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  const asKey = (key: string) => ({ url: ID, headers: { authorization: `Bearer ${key}` } });
  assert.equal((await app.inject(asKey('key-one'))).statusCode, 200);
  assert.equal((await app.inject(asKey('key-one'))).statusCode, 200);
  assertProblem(await app.inject(asKey('key-one')), 429, 'rate_limited');
  // Same IP, another key: a fresh bucket.
  const other = await app.inject(asKey('key-two'));
  assert.equal(other.statusCode, 200);
  assert.equal(header(other, 'x-ratelimit-remaining'), '1');
  // Refused keys do not drain anyone's bucket (auth runs first).
  for (let index = 0; index < 5; index++) assertProblem(await app.inject(asKey('bad-key')), 401, 'unauthorized');
  assert.equal((await app.inject(asKey('key-two'))).statusCode, 200);
});

test('when open, the bucket is per client IP', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_RATE_LIMIT: '2' } });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  const from = (remoteAddress: string) => ({ url: ID, remoteAddress });
  assert.equal((await app.inject(from('10.0.0.1'))).statusCode, 200);
  assert.equal((await app.inject(from('10.0.0.1'))).statusCode, 200);
  assertProblem(await app.inject(from('10.0.0.1')), 429, 'rate_limited');
  assert.equal((await app.inject(from('10.0.0.2'))).statusCode, 200);
  // X-Forwarded-For is not trusted: it cannot buy a fresh bucket.
  assertProblem(await app.inject({ ...from('10.0.0.1'), headers: { 'x-forwarded-for': '192.0.2.77' } }), 429, 'rate_limited');
});

test('behind a trusted proxy (TASKGATE_CONFIG trustProxy) the bucket is the forwarded client IP', async (t) => {
  const { app, vtrix } = await startStack(t, {
    env: { TASKGATE_RATE_LIMIT: '1' },
    configure: (config) => ({ ...config, trustProxy: ['10.0.0.1'] }),
  });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  const via = (client: string, proxy = '10.0.0.1') => ({ url: ID, remoteAddress: proxy, headers: { 'x-forwarded-for': client } });
  assert.equal((await app.inject(via('192.0.2.1'))).statusCode, 200);
  assertProblem(await app.inject(via('192.0.2.1')), 429, 'rate_limited');
  assert.equal((await app.inject(via('192.0.2.2'))).statusCode, 200, 'another client behind the same proxy');
  // A proxy that is not trusted cannot choose the bucket.
  assert.equal((await app.inject(via('192.0.2.3', '10.0.0.9'))).statusCode, 200);
  assertProblem(await app.inject(via('192.0.2.4', '10.0.0.9')), 429, 'rate_limited');
});

test('TASKGATE_RATE_LIMIT=0 turns the limit off', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_RATE_LIMIT: '0' } });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  for (let index = 0; index < 25; index++) {
    const response = await app.inject({ url: ID });
    assert.equal(response.statusCode, 200);
    assert.equal(header(response, 'x-ratelimit-limit'), undefined);
  }
});

test('health, readiness, metrics and docs are never rate limited', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_RATE_LIMIT: '1' } });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  assert.equal((await app.inject({ url: ID })).statusCode, 200);
  assertProblem(await app.inject({ url: ID }), 429, 'rate_limited');
  for (let index = 0; index < 5; index++) {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(header(response, 'x-ratelimit-limit'), undefined, url);
    }
  }
});

test('429s are counted in the HTTP metrics', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_RATE_LIMIT: '1' } });
  vtrix.setTask('task_rl0001', { variant: 'model', timeline: DONE });
  await app.inject({ url: ID });
  await app.inject({ url: ID });
  await app.inject({ url: ID });
  const metrics = (await app.inject({ url: '/metrics' })).body;
  assert.equal(metricValue(metrics, 'taskgate_http_requests_total', { method: 'GET', route: '/tasks/:id', status: '429' }), 2);
});
