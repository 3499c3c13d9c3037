/**
 * a `task_not_found` is remembered for `cache.notFoundMs` per provider and
 * native id (for ambiguous ids, per candidate), errors never, so repeated unknown ids cost
 * one upstream call per window, through GET and POST /tasks/batch alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchResultSchema } from '../../schemas/batch.js';
import type { Config } from '../../src/settings/schema.js';
import { json, startStack } from '../helpers/stack.js';
import { assertProblem } from '../hardening/support.js';

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));
const notFoundFor = (notFoundMs: number) => (config: Config) => ({ ...config, cache: { ...config.cache, notFoundMs } });

test('20 GETs of an unknown id, sequential and concurrent, cost one upstream call', async (t) => {
  const { app, vtrix } = await startStack(t);
  const id = 'aaaaaaaaaaaaaaaaaaaa';
  vtrix.setTask(id, { missing: true });
  for (let index = 0; index < 10; index++) assertProblem(await app.inject({ url: `/tasks/${id}` }), 404, 'task_not_found', 'vtrix');
  const concurrent = await Promise.all(Array.from({ length: 10 }, () => app.inject({ url: `/tasks/${id}` })));
  for (const answer of concurrent) assertProblem(answer, 404, 'task_not_found', 'vtrix');
  assert.equal(vtrix.hits(id), 1);
});

test('an ambiguous unknown id is remembered per candidate: one call to each', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const id = 'task_missing_nf0001';
  for (let index = 0; index < 10; index++) {
    const problem = assertProblem(await app.inject({ url: `/tasks/${id}` }), 404, 'task_not_found');
    assert.match(problem.detail, /vtrix, gravitex/);
  }
  assert.equal(vtrix.hits(id), 1);
  assert.equal(gravitex.hits(id), 1);
});

test('repeated batches of unknown ids cost one call per id and candidate', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  const ids = Array.from({ length: 50 }, (_, index) => `task_missing_batch${String(index).padStart(3, '0')}`);
  for (let round = 0; round < 5; round++) {
    const answer = await app.inject({ method: 'POST', url: '/tasks/batch', payload: { ids } });
    const { results } = BatchResultSchema.parse(json(answer));
    assert.ok(results.every((item) => !item.ok && item.problem.code === 'task_not_found'));
  }
  // A GET of one of them afterwards is remembered too.
  assertProblem(await app.inject({ url: `/tasks/${ids[0]}` }), 404, 'task_not_found');
  assert.equal(vtrix.hits(), 50);
  assert.equal(gravitex.hits(), 50);
});

test('the window ends: after notFoundMs the provider is asked again, and then the task may exist', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: notFoundFor(200) });
  const id = 'bbbbbbbbbbbbbbbbbbbb';
  vtrix.setTask(id, { missing: true });
  assertProblem(await app.inject({ url: `/tasks/${id}` }), 404, 'task_not_found');
  assertProblem(await app.inject({ url: `/tasks/${id}` }), 404, 'task_not_found');
  assert.equal(vtrix.hits(id), 1);
  vtrix.setTask(id, { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }] });
  await sleep(250);
  const found = await app.inject({ url: `/tasks/${id}` });
  assert.equal(found.statusCode, 200, found.body);
  assert.equal(vtrix.hits(id), 2);
});

test('notFoundMs 0 remembers nothing', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: notFoundFor(0) });
  const id = 'cccccccccccccccccccc';
  vtrix.setTask(id, { missing: true });
  for (let index = 0; index < 3; index++) assertProblem(await app.inject({ url: `/tasks/${id}` }), 404, 'task_not_found');
  assert.equal(vtrix.hits(id), 3);
});

test('errors are never remembered; with one candidate not found and one failing, only the failure is asked again', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, {
    env: { CIRCUIT_FAILURE_THRESHOLD: '0' },
    configure: (config) => ({ ...config, upstreamRetries: 0 }),
  });
  const id = 'task_missing_nf0002';
  gravitex.injectFault(id, { kind: 'status', status: 500 });
  for (let index = 0; index < 3; index++) assertProblem(await app.inject({ url: `/tasks/${id}` }), 502, 'upstream_error', 'gravitex');
  assert.equal(gravitex.hits(id), 3, 'the 5xx was not remembered');
  assert.equal(vtrix.hits(id), 1, "vtrix's not-found was");
  gravitex.clearFaults();
  assertProblem(await app.inject({ url: `/tasks/${id}` }), 404, 'task_not_found');
  assert.equal(vtrix.hits(id), 1);
});
