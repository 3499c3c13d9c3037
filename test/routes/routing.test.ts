/**
 * Which provider an id goes to: ambiguous ids, remembered winners, and id validation
 * before anything goes upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startStack } from '../helpers/stack.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const GRAVITEX_TASK = 'task_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56';

test('an ambiguous task_ id found only at gravitex is served from gravitex', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  gravitex.setTask(GRAVITEX_TASK, { variant: 'wrapped', timeline: DONE });
  const response = await app.inject({ url: `/tasks/${GRAVITEX_TASK}` });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).provider, 'gravitex');
  assert.equal(vtrix.hits(GRAVITEX_TASK), 1, 'vtrix was asked too');
  assert.equal(gravitex.hits(GRAVITEX_TASK), 1);
});

test('the winner of an ambiguous id is remembered: later polls go straight there', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, { configure: (config) => ({ ...config, cache: { ...config.cache, freshMs: 0 } }) });
  gravitex.setTask(GRAVITEX_TASK, { variant: 'wrapped', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  await app.inject({ url: `/tasks/${GRAVITEX_TASK}` });
  await app.inject({ url: `/tasks/${GRAVITEX_TASK}` });
  await app.inject({ url: `/tasks/${GRAVITEX_TASK}` });
  assert.equal(vtrix.hits(GRAVITEX_TASK), 1, 'vtrix was only asked the first time');
  assert.equal(gravitex.hits(GRAVITEX_TASK), 3);
});

test('when both candidates have the task, the one listed first in the rule wins', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, {});
  vtrix.setTask('task_both001', { variant: 'model', timeline: DONE });
  gravitex.setTask('task_both001', { variant: 'wrapped', timeline: DONE });
  // Make gravitex answer first: the rule's order, not speed, decides.
  vtrix.injectFault('task_both001', { kind: 'latency', ms: 150 });
  const response = await app.inject({ url: '/tasks/task_both001' });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).provider, 'vtrix');
});

test('an ambiguous id that neither provider has is a 404 task_not_found', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const response = await app.inject({ url: '/tasks/task_missing_everywhere' });
  assert.equal(response.statusCode, 404);
  assert.equal(json(response).code, 'task_not_found');
  assert.equal(vtrix.hits('task_missing_everywhere'), 1);
  assert.equal(gravitex.hits('task_missing_everywhere'), 1);
});

test('one not-found and one failure is the failure: absence cannot be known', async (t) => {
  const { app, gravitex } = await startStack(t);
  // vtrix owns no 32-char task_ id; gravitex fails.
  gravitex.injectFault(GRAVITEX_TASK, { kind: 'status', status: 503 });
  const response = await app.inject({ url: `/tasks/${GRAVITEX_TASK}` });
  assert.equal(response.statusCode, 502);
  assert.equal(json(response).code, 'upstream_error');
  assert.equal(json(response).provider, 'gravitex');
});

test('an ambiguous id skips a candidate that is not configured', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, { unconfigured: ['vtrix'] });
  gravitex.setTask(GRAVITEX_TASK, { variant: 'wrapped', timeline: DONE });
  const response = await app.inject({ url: `/tasks/${GRAVITEX_TASK}` });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).provider, 'gravitex');
  assert.equal(vtrix.hits(), 0);
});

test('hostile ids are rejected before anything goes upstream', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const hostile = [
    '/tasks/has%20space',
    '/tasks/..%2F..%2Fadmin',
    '/tasks/task_a%2Fb',
    '/tasks/vtrix:task_a%2Fb',
    '/tasks/task_a%252Fb',
    '/tasks/%2Ftask_a',
    `/tasks/task_${'a'.repeat(508)}`,
    '/tasks/t%C3%A4sk_1',
    '/tasks/task_%00null',
    '/tasks/task%0D%0AX-Injected:%201',
  ];
  for (const url of hostile) {
    const response = await app.inject({ url });
    assert.equal(response.statusCode, 400, url);
    assert.equal(json(response).code, 'invalid_task_id', url);
  }
  assert.equal(vtrix.hits() + gravitex.hits(), 0);
});

test('native ids are URL-encoded into the upstream path', async (t) => {
  const { app, vtrix } = await startStack(t);
  // ':' survives validation; the simulator decodes the path and finds the same id.
  vtrix.setTask('task:with.colon', { variant: 'model', timeline: DONE });
  const response = await app.inject({ url: '/tasks/vtrix:task:with.colon' });
  assert.equal(response.statusCode, 200);
  assert.equal(vtrix.hits('task:with.colon'), 1);
});
