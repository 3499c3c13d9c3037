/**
 * Every row of the contract's error table, produced through the app against the real
 * simulators: the HTTP status, the problem+json shape and the code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ProblemSchema } from '../../schemas/problem.js';
import { json, startStack, VTRIX_KEY, GRAVITEX_KEY } from '../helpers/stack.js';

function assertProblem(response: LightMyRequestResponse, status: number, code: string, provider?: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  const problem = ProblemSchema.parse(json(response));
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.equal(problem.type, `/problems/${code}`);
  assert.equal(problem.request_id, response.headers['x-request-id']);
  if (provider !== undefined) assert.equal(problem.provider, provider);
  // No key, stack or raw upstream body ever reaches a client.
  for (const secret of [VTRIX_KEY, GRAVITEX_KEY, '    at ', '<html', '{"']) assert.ok(!problem.detail.includes(secret), problem.detail);
  return problem;
}

test('400 invalid_task_id for an id the validator rejects', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  assertProblem(await app.inject({ url: '/tasks/has%20space' }), 400, 'invalid_task_id');
  assertProblem(await app.inject({ url: '/tasks/vtrix:' }), 400, 'invalid_task_id');
  assert.equal(vtrix.hits() + gravitex.hits(), 0);
});

test('400 invalid_request for a bad wait', async (t) => {
  const { app } = await startStack(t);
  for (const query of ['wait=61', 'wait=-1', 'wait=abc', 'wait=1.5']) {
    assertProblem(await app.inject({ url: `/tasks/task_abc001?${query}` }), 400, 'invalid_request');
  }
  assertProblem(await app.inject({ url: '/tasks/task_abc001', headers: { prefer: 'wait=100' } }), 400, 'invalid_request');
});

test('404 no_provider_for_task_id when no rule matches or the provider is unknown', async (t) => {
  const { app } = await startStack(t);
  assertProblem(await app.inject({ url: '/tasks/unroutable-id' }), 404, 'no_provider_for_task_id');
  assertProblem(await app.inject({ url: '/tasks/acme:123' }), 404, 'no_provider_for_task_id');
});

test('404 task_not_found from vtrix (404) and gravitex (400 task_not_exist)', async (t) => {
  const { app } = await startStack(t);
  assertProblem(await app.inject({ url: '/tasks/vtrix:task_missing1' }), 404, 'task_not_found', 'vtrix');
  assertProblem(await app.inject({ url: '/tasks/gravitex:video_missing000000000000000000000000' }), 404, 'task_not_found', 'gravitex');
});

test('502 upstream_auth_failed when the provider rejects our key', async (t) => {
  const { app } = await startStack(t, { env: { VTRIX_API_KEY: 'wrong-key' } });
  assertProblem(await app.inject({ url: '/tasks/task_abc001' }), 502, 'upstream_auth_failed', 'vtrix');
});

test('502 upstream_auth_failed on a 403 from the provider', async (t) => {
  const { app, gravitex } = await startStack(t);
  gravitex.injectFault('video_banned00000000000000000000000000', { kind: 'status', status: 403 });
  assertProblem(await app.inject({ url: '/tasks/video_banned00000000000000000000000000' }), 502, 'upstream_auth_failed', 'gravitex');
});

test('502 upstream_error after retries on persistent 5xx, and on an unexpected 4xx', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.injectFault('task_down01', { kind: 'status', status: 500 });
  assertProblem(await app.inject({ url: '/tasks/task_down01' }), 502, 'upstream_error', 'vtrix');
  assert.equal(vtrix.hits('task_down01'), 3, 'one attempt and two retries');
  vtrix.injectFault('task_teapot', { kind: 'status', status: 418 });
  assertProblem(await app.inject({ url: '/tasks/task_teapot' }), 502, 'upstream_error', 'vtrix');
  assert.equal(vtrix.hits('task_teapot'), 1, '4xx is not retried');
});

test('502 upstream_error when the connection is reset every time', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.injectFault('task_reset01', { kind: 'reset' });
  assertProblem(await app.inject({ url: '/tasks/task_reset01' }), 502, 'upstream_error', 'vtrix');
  assert.equal(vtrix.hits('task_reset01'), 3);
});

test('502 upstream_invalid_response for malformed, HTML and oversized answers', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  vtrix.injectFault('task_garble1', { kind: 'malformed' });
  assertProblem(await app.inject({ url: '/tasks/task_garble1' }), 502, 'upstream_invalid_response', 'vtrix');
  // An nginx 502 page is the provider being down (retried, then upstream_error); a 200 HTML page is a broken answer.
  gravitex.injectFault('video_html0000000000000000000000000000', { kind: 'html' });
  assertProblem(await app.inject({ url: '/tasks/gravitex:video_html0000000000000000000000000000' }), 502, 'upstream_error', 'gravitex');
  assert.equal(gravitex.hits('video_html0000000000000000000000000000'), 3);
  gravitex.injectFault('video_html2000000000000000000000000000', { kind: 'html', status: 200 });
  assertProblem(await app.inject({ url: '/tasks/gravitex:video_html2000000000000000000000000000' }), 502, 'upstream_invalid_response', 'gravitex');
  assert.equal(gravitex.hits('video_html2000000000000000000000000000'), 1);
  vtrix.injectFault('task_huge001', { kind: 'huge', bytes: 2 * 1024 * 1024 });
  assertProblem(await app.inject({ url: '/tasks/task_huge001' }), 502, 'upstream_invalid_response', 'vtrix');
});

test('502 upstream_invalid_response when a success has no result URL', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_nourl01', { raw: { status: 200, body: { id: 'task_nourl01', status: 'completed' } } });
  assertProblem(await app.inject({ url: '/tasks/task_nourl01' }), 502, 'upstream_invalid_response', 'vtrix');
});

test('503 upstream_rate_limited passes Retry-After on, or says 5', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  vtrix.injectFault('task_busy001', { kind: 'rate_limit', retryAfter: 30 });
  const withHeader = await app.inject({ url: '/tasks/task_busy001' });
  assertProblem(withHeader, 503, 'upstream_rate_limited', 'vtrix');
  assert.equal(withHeader.headers['retry-after'], '30');
  gravitex.injectFault('video_busy0000000000000000000000000000', { kind: 'rate_limit' });
  const without = await app.inject({ url: '/tasks/video_busy0000000000000000000000000000' });
  assertProblem(without, 503, 'upstream_rate_limited', 'gravitex');
  assert.equal(without.headers['retry-after'], '5');
});

test('503 provider_not_configured for a provider without a key', async (t) => {
  // Both video_ candidates without a key: the first of the rule is named.
  const { app, gravitex, openai } = await startStack(t, { unconfigured: ['gravitex', 'openai'] });
  assertProblem(await app.inject({ url: '/tasks/video_69095b4ce0048190893a01510c0c98b0' }), 503, 'provider_not_configured', 'gravitex');
  assertProblem(await app.inject({ url: '/tasks/openai:video_69095b4ce0048190893a01510c0c98b0' }), 503, 'provider_not_configured', 'openai');
  assert.equal(gravitex.hits() + openai.hits(), 0);
});

test('504 upstream_timeout when the provider does not answer in time', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { UPSTREAM_TIMEOUT_MS: '300' } });
  vtrix.injectFault('task_hang001', { kind: 'hang' });
  const started = Date.now();
  assertProblem(await app.inject({ url: '/tasks/task_hang001' }), 504, 'upstream_timeout', 'vtrix');
  assert.ok(Date.now() - started < 2000, 'the deadline bounds the whole lookup');
});

test('504 upstream_timeout when a body drips slower than the deadline', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { UPSTREAM_TIMEOUT_MS: '300' } });
  vtrix.injectFault('task_drip001', { kind: 'slow_drip', ms: 3000 });
  assertProblem(await app.inject({ url: '/tasks/task_drip001' }), 504, 'upstream_timeout', 'vtrix');
});

test('404 not_found for other paths and 405 method_not_allowed for other methods', async (t) => {
  const { app } = await startStack(t);
  assertProblem(await app.inject({ url: '/nothing/here' }), 404, 'not_found');
  const post = await app.inject({ method: 'POST', url: '/tasks/task_abc001' });
  assertProblem(post, 405, 'method_not_allowed');
  assert.match(String(post.headers.allow), /GET/);
  assertProblem(await app.inject({ method: 'DELETE', url: '/healthz' }), 405, 'method_not_allowed');
});

test('a missing file under a GET route that serves files is a 404 not_found, not a 405 for GET', async (t) => {
  const { app } = await startStack(t);
  assertProblem(await app.inject({ url: '/docs/static/nope.js' }), 404, 'not_found');
  const post = await app.inject({ method: 'POST', url: '/docs/static/nope.js' });
  assertProblem(post, 405, 'method_not_allowed');
  assert.match(String(post.headers.allow), /GET/);
});
