/**
 * POST /tasks/batch against the real simulators: one result per id in request order, the
 * same routing, single flight and caches as GET /tasks/{id}, per-id problems that never fail
 * the batch, and 400 invalid_request for a body that is not a batch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { BatchResultSchema, type BatchItem } from '../../schemas/batch.js';
import { ProblemSchema } from '../../schemas/problem.js';
import { json, startStack } from '../helpers/stack.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];
const SEEDED_GRAVITEX = 'video_69095b4ce0048190893a01510c0c98b0';

function batch(ids: unknown) {
  return { method: 'POST' as const, url: '/tasks/batch', payload: { ids } };
}

function results(response: LightMyRequestResponse): BatchItem[] {
  assert.equal(response.statusCode, 200, response.body);
  return BatchResultSchema.parse(json(response)).results;
}

/** `id=status` for a task, `id!code` for a problem: the whole batch in one comparable line. */
function outline(items: readonly BatchItem[]): string[] {
  return items.map((item) => (item.ok ? `${item.id}=${item.task.status}` : `${item.id}!${item.problem.code}`));
}

test('a batch over both providers answers each id in the normalized shape, in request order', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  vtrix.setTask('d758n65e878c73cmdg20', { variant: 'model', timeline: DONE });
  vtrix.setTask('task_batch01', { variant: 'model', timeline: RUNNING });
  gravitex.setTask('video_batch0000000000000000000000000', { variant: 'wrapped', timeline: [{ atMs: 0, status: 'failed' }] });
  const ids = ['task_batch01', SEEDED_GRAVITEX, 'd758n65e878c73cmdg20', 'video_batch0000000000000000000000000'];

  const items = results(await app.inject(batch(ids)));
  assert.deepEqual(
    items.map((item) => item.id),
    ids,
  );
  assert.deepEqual(outline(items), [
    'task_batch01=in_progress',
    `${SEEDED_GRAVITEX}=succeeded`,
    'd758n65e878c73cmdg20=succeeded',
    'video_batch0000000000000000000000000=failed',
  ]);
  const providers = items.map((item) => (item.ok ? item.task.provider : null));
  assert.deepEqual(providers, ['vtrix', 'gravitex', 'vtrix', 'gravitex']);
  const [running] = items;
  assert.ok(running?.ok);
  assert.equal(running.task.id, 'task_batch01');
  assert.equal(running.task.progress, 40);
  assert.ok(running.task.poll_after_ms !== null && running.task.poll_after_ms > 0);
});

test('results follow the request order, not the order the lookups finish in', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  vtrix.setTask('task_slow0001', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_slow0001', { kind: 'latency', ms: 200 });
  gravitex.setTask('video_fast0000000000000000000000000', { variant: 'documented', timeline: DONE });
  const ids = ['vtrix:task_slow0001', 'video_fast0000000000000000000000000', 'unroutable-id'];
  const items = results(await app.inject(batch(ids)));
  assert.deepEqual(outline(items), [
    'vtrix:task_slow0001=succeeded',
    'video_fast0000000000000000000000000=succeeded',
    'unroutable-id!no_provider_for_task_id',
  ]);
});

test('repeated ids share one lookup and repeat their result', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_dup0001', { variant: 'model', timeline: RUNNING });
  vtrix.injectFault('task_dup0001', { kind: 'latency', ms: 50 });
  const ids = ['vtrix:task_dup0001', 'vtrix:task_dup0001', SEEDED_GRAVITEX, 'vtrix:task_dup0001'];
  const items = results(await app.inject(batch(ids)));
  assert.deepEqual(outline(items), [
    'vtrix:task_dup0001=in_progress',
    'vtrix:task_dup0001=in_progress',
    `${SEEDED_GRAVITEX}=succeeded`,
    'vtrix:task_dup0001=in_progress',
  ]);
  assert.equal(vtrix.hits('task_dup0001'), 1);
});

test('a batch shares the single flight and the cache with GET /tasks/{id}', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_shared01', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_shared01', { kind: 'latency', ms: 100 });
  const [single, together] = await Promise.all([
    app.inject({ url: '/tasks/vtrix:task_shared01' }),
    app.inject(batch(['vtrix:task_shared01'])),
  ]);
  assert.equal(single.statusCode, 200);
  assert.deepEqual(outline(results(together)), ['vtrix:task_shared01=succeeded']);
  // The finished task is now served from memory, to batches and single lookups alike.
  assert.deepEqual(outline(results(await app.inject(batch(['vtrix:task_shared01'])))), ['vtrix:task_shared01=succeeded']);
  assert.equal(vtrix.hits('task_shared01'), 1);
});

test('an invalid id gets its own invalid_task_id result and costs no provider call', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const tooLong = 'a'.repeat(513);
  const ids = ['has space', '', 'vtrix:', tooLong, '../etc/passwd', SEEDED_GRAVITEX];
  const items = results(await app.inject(batch(ids)));
  assert.deepEqual(outline(items), [
    'has space!invalid_task_id',
    '!invalid_task_id',
    'vtrix:!invalid_task_id',
    `${tooLong}!invalid_task_id`,
    '../etc/passwd!invalid_task_id',
    `${SEEDED_GRAVITEX}=succeeded`,
  ]);
  const problem = items[0];
  assert.ok(problem !== undefined && !problem.ok);
  ProblemSchema.parse(problem.problem);
  assert.equal(problem.problem.status, 400);
  assert.equal(problem.problem.type, '/problems/invalid_task_id');
  assert.equal(vtrix.hits(), 0);
  assert.equal(gravitex.hits(SEEDED_GRAVITEX), 1);
});

test('ids nobody has are per-item 404s, with the provider that said so', async (t) => {
  const { app } = await startStack(t);
  const response = await app.inject({ ...batch(['vtrix:task_missing1', 'acme:123', SEEDED_GRAVITEX]), headers: { 'x-request-id': 'batch-req-1' } });
  const items = results(response);
  assert.deepEqual(outline(items), ['vtrix:task_missing1!task_not_found', 'acme:123!no_provider_for_task_id', `${SEEDED_GRAVITEX}=succeeded`]);
  const [missing] = items;
  assert.ok(missing !== undefined && !missing.ok);
  assert.equal(missing.problem.status, 404);
  assert.equal(missing.problem.provider, 'vtrix');
  assert.equal(missing.problem.request_id, 'batch-req-1');
});

test('an upstream timeout fails only its own item, within the deadline', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { UPSTREAM_TIMEOUT_MS: '300' } });
  vtrix.injectFault('task_hang001', { kind: 'hang' });
  vtrix.setTask('task_fine001', { variant: 'model', timeline: DONE });
  const started = Date.now();
  const items = results(await app.inject(batch(['vtrix:task_hang001', 'vtrix:task_fine001', SEEDED_GRAVITEX])));
  assert.ok(Date.now() - started < 2000, 'the deadline bounds every lookup of the batch');
  assert.deepEqual(outline(items), ['vtrix:task_hang001!upstream_timeout', 'vtrix:task_fine001=succeeded', `${SEEDED_GRAVITEX}=succeeded`]);
  const [timedOut] = items;
  assert.ok(timedOut !== undefined && !timedOut.ok);
  assert.equal(timedOut.problem.status, 504);
  assert.equal(timedOut.problem.provider, 'vtrix');
});

test('a provider without a key fails its items, not the batch', async (t) => {
  const { app, vtrix } = await startStack(t, { unconfigured: ['gravitex', 'openai'] });
  vtrix.setTask('d758n65e878c73cmdg20', { variant: 'model', timeline: DONE });
  const items = results(await app.inject(batch([SEEDED_GRAVITEX, 'd758n65e878c73cmdg20'])));
  assert.deepEqual(outline(items), [`${SEEDED_GRAVITEX}!provider_not_configured`, 'd758n65e878c73cmdg20=succeeded']);
});

test('100 ids are accepted', async (t) => {
  const { app } = await startStack(t);
  const ids = Array.from({ length: 100 }, (_, index) => `unroutable-${index}`);
  const items = results(await app.inject(batch(ids)));
  assert.equal(items.length, 100);
  assert.deepEqual(
    items.map((item) => item.id),
    ids,
  );
});

test('a body that is not a batch is a 400 invalid_request problem', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const bodies: Array<[string, string]> = [
    ['an array', '["task_abc001"]'],
    ['a string', '"task_abc001"'],
    ['null', 'null'],
    ['no ids', '{}'],
    ['ids not an array', '{"ids":"task_abc001"}'],
    ['no id', '{"ids":[]}'],
    ['101 ids', JSON.stringify({ ids: Array.from({ length: 101 }, (_, index) => `task_${index}`) })],
    ['a number among the ids', '{"ids":["task_abc001",7]}'],
    ['a null among the ids', '{"ids":[null]}'],
    ['broken JSON', '{"ids":['],
  ];
  for (const [what, payload] of bodies) {
    const response = await app.inject({ method: 'POST', url: '/tasks/batch', payload, headers: { 'content-type': 'application/json' } });
    assert.equal(response.statusCode, 400, `${what}: ${response.body}`);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/, what);
    const problem = ProblemSchema.parse(json(response));
    assert.equal(problem.code, 'invalid_request', what);
    assert.equal(problem.request_id, response.headers['x-request-id']);
  }
  const empty = await app.inject({ method: 'POST', url: '/tasks/batch' });
  assert.equal(ProblemSchema.parse(json(empty)).code, 'invalid_request');
  assert.equal(empty.statusCode, 400);
  assert.equal(vtrix.hits() + gravitex.hits(), 0);
});

test('a body that is not JSON is a 415 unsupported_media_type and an oversized one a 413 invalid_request, as documented', async (t) => {
  const { app } = await startStack(t);
  const xml = await app.inject({ method: 'POST', url: '/tasks/batch', payload: '<ids><id>task_abc001</id></ids>', headers: { 'content-type': 'application/xml' } });
  assert.equal(xml.statusCode, 415);
  assert.equal(ProblemSchema.parse(json(xml)).code, 'unsupported_media_type');
  const huge = await app.inject(batch(Array.from({ length: 100 }, () => 'x'.repeat(1000))));
  assert.equal(huge.statusCode, 413);
  assert.equal(ProblemSchema.parse(json(huge)).code, 'invalid_request');
});

test('a compressed body, a charset other than UTF-8 or a text/plain body is a 415 unsupported_media_type, looked up nowhere', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const payload = JSON.stringify({ ids: ['vtrix:task_abc001'] });
  const refused: Array<Record<string, string>> = [
    { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    { 'content-type': 'application/json', 'content-encoding': 'deflate, identity' },
    { 'content-type': 'application/json; charset=iso-8859-1' },
    { 'content-type': 'application/json; charset="UTF-16"' },
    { 'content-type': 'text/plain' },
    { 'content-type': 'text/plain; charset=utf-8' },
  ];
  for (const headers of refused) {
    const response = await app.inject({ method: 'POST', url: '/tasks/batch', payload, headers });
    assert.equal(response.statusCode, 415, `${JSON.stringify(headers)}: ${response.body}`);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    const problem = ProblemSchema.parse(json(response));
    assert.equal(problem.code, 'unsupported_media_type');
    assert.equal(problem.status, 415);
  }
  assert.equal(vtrix.hits() + gravitex.hits(), 0);
  for (const headers of [
    { 'content-type': 'application/json; charset=utf-8' },
    { 'content-type': 'application/json; charset="UTF-8"' },
    { 'content-type': 'application/json', 'content-encoding': 'identity' },
  ]) {
    const response = await app.inject({ method: 'POST', url: '/tasks/batch', payload, headers });
    assert.equal(response.statusCode, 200, `${JSON.stringify(headers)}: ${response.body}`);
  }
});

test('POST /tasks/batch is its own route; other POSTs under /tasks are still 405', async (t) => {
  const { app } = await startStack(t);
  assert.equal((await app.inject(batch(['unroutable-id']))).statusCode, 200);
  const other = await app.inject({ method: 'POST', url: '/tasks/task_abc001', payload: { ids: ['x'] } });
  assert.equal(other.statusCode, 405);
  assert.equal(ProblemSchema.parse(json(other)).code, 'method_not_allowed');
  const put = await app.inject({ method: 'PUT', url: '/tasks/batch', payload: { ids: ['x'] } });
  assert.equal(put.statusCode, 405);
  assert.match(String(put.headers.allow), /POST/);
});

test('a batch needs the client key like every /tasks route, and N ids count N for the rate limit', async (t) => {
  const { app } = await startStack(t, { env: { TASKGATE_API_KEYS: 'batch-key', TASKGATE_RATE_LIMIT: '100' } });
  const refused = await app.inject(batch(['unroutable-id']));
  assert.equal(refused.statusCode, 401);
  assert.equal(ProblemSchema.parse(json(refused)).code, 'unauthorized');

  const authorized = { ...batch(Array.from({ length: 50 }, (_, index) => `unroutable-${index}`)), headers: { authorization: 'Bearer batch-key' } };
  const first = await app.inject(authorized);
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers['x-ratelimit-remaining'], '50');
  assert.equal((await app.inject(authorized)).statusCode, 200);
  const limited = await app.inject(authorized);
  assert.equal(limited.statusCode, 429);
  assert.equal(ProblemSchema.parse(json(limited)).code, 'rate_limited');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
});

test('a browser app on an allowed origin may POST a batch (the preflight allows POST and Content-Type)', async (t) => {
  const { app } = await startStack(t, { env: { TASKGATE_CORS_ORIGINS: 'https://app.example' } });
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/tasks/batch',
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization',
    },
  });
  assert.equal(preflight.statusCode, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  assert.match(String(preflight.headers['access-control-allow-headers']), /Content-Type/i);
  const response = await app.inject({ ...batch(['unroutable-id']), headers: { origin: 'https://app.example' } });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['access-control-allow-origin'], 'https://app.example');
});
