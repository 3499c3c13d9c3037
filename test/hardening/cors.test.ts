/**
 * CORS from TASKGATE_CORS_ORIGINS: exact origins get the headers a browser app needs to
 * read our answers (errors and rate-limit headers included); other origins get none;
 * preflights for `Authorization` work, even when client keys are required.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startStack } from '../helpers/stack.js';
import { assertProblem, header } from './support.js';

const APP = 'https://app.example';
const ADMIN = 'http://admin.example:8443';
const EXACT = { TASKGATE_CORS_ORIGINS: `${APP}, ${ADMIN}` };
const DONE = [{ atMs: 0, status: 'succeeded' as const }];

function listOf(value: string | undefined): string[] {
  return (value ?? '').split(',').map((item) => item.trim().toLowerCase()).filter((item) => item !== '');
}

function preflight(origin: string, requestHeaders = 'authorization') {
  return {
    method: 'OPTIONS' as const,
    url: '/tasks/task_abc001',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': requestHeaders },
  };
}

test('an allowed origin gets Access-Control-Allow-Origin and the exposed headers', async (t) => {
  const { app, vtrix } = await startStack(t, { env: EXACT });
  vtrix.setTask('task_cors001', { variant: 'model', timeline: DONE });
  for (const origin of [APP, ADMIN]) {
    const response = await app.inject({ url: '/tasks/vtrix:task_cors001', headers: { origin } });
    assert.equal(response.statusCode, 200);
    assert.equal(header(response, 'access-control-allow-origin'), origin);
    assert.ok(listOf(header(response, 'vary')).includes('origin'), 'caches must key on Origin');
    const exposed = listOf(header(response, 'access-control-expose-headers'));
    for (const name of ['etag', 'retry-after', 'x-request-id', 'preference-applied', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
      assert.ok(exposed.includes(name), `${name} exposed: ${exposed.join(', ')}`);
    }
    assert.equal(header(response, 'access-control-allow-credentials'), undefined, 'no cookies are involved');
  }
});

test('another origin gets no Access-Control-Allow-Origin, on answers and on preflights', async (t) => {
  const { app } = await startStack(t, { env: EXACT });
  for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'https://app.example:444', 'null']) {
    const response = await app.inject({ url: '/tasks/task_abc001', headers: { origin } });
    assert.equal(header(response, 'access-control-allow-origin'), undefined, origin);
    const answer = await app.inject(preflight(origin));
    assert.equal(header(answer, 'access-control-allow-origin'), undefined, origin);
  }
});

test('a preflight for Authorization works, with client keys required', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, { env: { ...EXACT, TASKGATE_API_KEYS: 'browser-key' } });
  const response = await app.inject(preflight(APP, 'authorization, prefer, if-none-match'));
  assert.ok([200, 204].includes(response.statusCode), `preflight answered ${response.statusCode}`);
  assert.equal(header(response, 'access-control-allow-origin'), APP);
  const allowedHeaders = listOf(header(response, 'access-control-allow-headers'));
  for (const name of ['authorization', 'prefer', 'if-none-match']) assert.ok(allowedHeaders.includes(name), allowedHeaders.join(', '));
  assert.ok(listOf(header(response, 'access-control-allow-methods')).includes('get'));
  assert.ok(Number(header(response, 'access-control-max-age')) > 0, 'browsers may cache the preflight');
  // The preflight itself carries no key and costs no provider call.
  assert.equal(vtrix.hits() + gravitex.hits(), 0);
});

test('a 401 still carries the CORS headers, so the browser app can read why', async (t) => {
  const { app } = await startStack(t, { env: { ...EXACT, TASKGATE_API_KEYS: 'browser-key' } });
  const response = await app.inject({ url: '/tasks/task_abc001', headers: { origin: APP } });
  assertProblem(response, 401, 'unauthorized');
  assert.equal(header(response, 'access-control-allow-origin'), APP);
});

test('`*` allows any origin', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_CORS_ORIGINS: '*' } });
  vtrix.setTask('task_cors002', { variant: 'model', timeline: DONE });
  for (const origin of ['https://anything.example', 'http://localhost:5173']) {
    const response = await app.inject({ url: '/tasks/vtrix:task_cors002', headers: { origin } });
    assert.equal(response.statusCode, 200);
    assert.equal(header(response, 'access-control-allow-origin'), '*');
    assert.ok(listOf(header(response, 'access-control-expose-headers')).includes('etag'));
    const answer = await app.inject(preflight(origin));
    assert.equal(header(answer, 'access-control-allow-origin'), '*');
    assert.ok(listOf(header(answer, 'access-control-allow-headers')).includes('authorization'));
  }
});

test('unset: no CORS headers at all, and OPTIONS is a 405', async (t) => {
  const { app } = await startStack(t);
  const response = await app.inject({ url: '/healthz', headers: { origin: APP } });
  assert.equal(header(response, 'access-control-allow-origin'), undefined);
  assert.equal(header(response, 'access-control-expose-headers'), undefined);
  assertProblem(await app.inject(preflight(APP)), 405, 'method_not_allowed');
});

test(
  'with CORS on, an unknown path is still a 404 not_found (not a 405 "use OPTIONS")',
  async (t) => {
    const { app } = await startStack(t, { env: EXACT });
    assertProblem(await app.inject({ url: '/nothing/here' }), 404, 'not_found');
    assertProblem(await app.inject({ method: 'DELETE', url: '/nothing/here' }), 404, 'not_found');
  },
);

test('an OPTIONS that is not a preflight is a plain 204 with Allow, not a text/plain 400', async (t) => {
  const { app } = await startStack(t, { env: { TASKGATE_CORS_ORIGINS: 'https://app.example' } });
  for (const headers of [{}, { origin: 'https://app.example' }, { 'access-control-request-method': 'GET' }]) {
    const response = await app.inject({ method: 'OPTIONS', url: '/tasks/task_opt001', headers });
    assert.equal(response.statusCode, 204, JSON.stringify(headers));
    assert.equal(response.body, '');
    assert.equal(response.headers.allow, 'GET, HEAD, OPTIONS', JSON.stringify(headers));
  }
  assert.equal((await app.inject({ method: 'OPTIONS', url: '/tasks/task_opt001/webhooks' })).headers.allow, 'POST, GET, HEAD, OPTIONS');
  assertProblem(await app.inject({ method: 'OPTIONS', url: '/nothing/here' }), 404, 'not_found');
  const open = await startStack(t);
  const withoutCors = await open.app.inject({ method: 'OPTIONS', url: '/tasks/task_opt001' });
  assert.equal(withoutCors.statusCode, 405);
  assert.match(String(withoutCors.headers['content-type']), /^application\/problem\+json/);
  assert.match(String(withoutCors.headers.allow), /GET/);
});
