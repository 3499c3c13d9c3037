/**
 * One batch must not amplify into a storm, against the real server process
 * and counted at the simulators: a batch of N ids costs N against the caller's rate limit,
 * and one batch has at most `batch.maxConcurrentLookups` lookups upstream at once, the
 * rest waiting their turn within the batch's budget (UPSTREAM_TIMEOUT_MS).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { BatchResultSchema, type BatchResult } from '../../schemas/batch.js';
import { startSimulators, type Simulators } from '../helpers/stack.js';
import { configFile, startGatewayProcess, waitFor, type GatewayProcess } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RATE_LIMIT = 20;
const MAX_CONCURRENT_LOOKUPS = 4;
const BUDGET_MS = 1500;
const KEYS = { weight: 'batch-weight-key-7d1e', concurrency: 'batch-concurrency-key-02b9' };

let gateway: GatewayProcess;
let simulators: Simulators;
const closers: Array<() => Promise<void> | void> = [];

before(async () => {
  const context = { after: (fn: () => Promise<void> | void) => closers.push(fn) };
  const launched = await startSimulators(context);
  simulators = launched.simulators;
  gateway = await startGatewayProcess({
    ...launched.env,
    TASKGATE_CONFIG: await configFile(context, { batch: { maxConcurrentLookups: MAX_CONCURRENT_LOOKUPS } }),
    TASKGATE_API_KEYS: Object.values(KEYS).join(','),
    TASKGATE_RATE_LIMIT: String(RATE_LIMIT),
    UPSTREAM_TIMEOUT_MS: String(BUDGET_MS),
  });
});

after(async () => {
  if (gateway?.child.exitCode === null) gateway.child.kill('SIGKILL');
  for (const close of closers.reverse()) await close();
});

async function postBatch(key: string, ids: string[]) {
  const response = await request(`${gateway.url}/tasks/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids }),
  });
  const text = await response.body.text();
  return { statusCode: response.statusCode, headers: response.headers, text };
}

async function getTask(key: string, id: string) {
  const response = await request(`${gateway.url}/tasks/${id}`, { headers: { authorization: `Bearer ${key}` } });
  await response.body.dump();
  return response.statusCode;
}

test('a batch of N ids costs N against the rate limit: 12 pass with 20 a minute, the next 12 do not', async () => {
  const ids = Array.from({ length: 12 }, (_, index) => `task_bw${String(index).padStart(4, '0')}`);
  for (const id of ids) simulators.vtrix.setTask(id, { variant: 'model', timeline: DONE });
  const qualified = ids.map((id) => `vtrix:${id}`);

  const first = await postBatch(KEYS.weight, qualified);
  assert.equal(first.statusCode, 200, first.text);
  assert.equal(first.headers['x-ratelimit-remaining'], String(RATE_LIMIT - ids.length));
  const results = BatchResultSchema.parse(JSON.parse(first.text)).results;
  assert.ok(results.every((item) => item.ok), 'every id answered, a few at a time');
  assert.equal(simulators.vtrix.hits(), ids.length);

  const second = await postBatch(KEYS.weight, qualified);
  assert.equal(second.statusCode, 429, second.text);
  assert.equal(JSON.parse(second.text).code, 'rate_limited');
  assert.ok(Number(second.headers['retry-after']) >= 1);
  assert.equal(await getTask(KEYS.weight, qualified[0]!), 429, 'the refused batch was charged too');
  assert.equal(simulators.vtrix.hits(), ids.length, 'refused batches cost no upstream call');
});

test(`one batch has at most ${MAX_CONCURRENT_LOOKUPS} lookups upstream at once; ids that cannot start within the budget are not looked up`, async () => {
  const ids = Array.from({ length: 2 * MAX_CONCURRENT_LOOKUPS }, (_, index) => `task_bc${String(index).padStart(4, '0')}`);
  // Lookups that never answer: each holds its place until its upstream deadline (the budget).
  for (const id of ids) simulators.gravitex.injectFault(id, { kind: 'hang' });
  const hitsBefore = simulators.gravitex.hits();
  const answer = postBatch(KEYS.concurrency, ids.map((id) => `gravitex:${id}`));
  const started = await waitFor(() => simulators.gravitex.hits() - hitsBefore, (hits) => hits >= MAX_CONCURRENT_LOOKUPS, 5000);
  assert.equal(started, MAX_CONCURRENT_LOOKUPS);
  // None of the first ones can end before its deadline, so no fifth lookup may start.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(simulators.gravitex.hits() - hitsBefore, MAX_CONCURRENT_LOOKUPS);

  const { statusCode, text } = await answer;
  assert.equal(statusCode, 200, text);
  const results: BatchResult['results'] = BatchResultSchema.parse(JSON.parse(text)).results;
  assert.equal(results.length, ids.length);
  for (const item of results) {
    assert.equal(item.ok, false);
    if (!item.ok) assert.equal(item.problem.code, 'upstream_timeout', item.problem.detail);
  }
  const notStarted = results.filter((item) => !item.ok && /budget/.test(item.problem.detail));
  assert.equal(notStarted.length, ids.length - MAX_CONCURRENT_LOOKUPS, 'the rest waited, and were not started past the budget');
  assert.equal(simulators.gravitex.hits() - hitsBefore, MAX_CONCURRENT_LOOKUPS, 'eight ids, four upstream calls');
});
