/**
 * minimax end to end: `GET /tasks/minimax:<id>` against the minimax simulator, with a
 * lookup of two calls (the task query, then the file retrieval) under one deadline, its
 * result on a public CDN origin, and its API errors inside HTTP 200 answers, logged at
 * `trace` to show the key never leaves the gateway.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { loggerOptions } from '../../src/server.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import { json, PROVIDER_KEYS, startSimulators } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
// In MiniMax's share of digit ids (the other digit-id providers hold the rest).
const TASK_ID = '361799900000002';
const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const }];
const MINIMAX_KEY = PROVIDER_KEYS.minimax;

async function stack(t: TestContext, env: Record<string, string> = {}) {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const { simulators, env: simulatorEnv } = await startSimulators(t);
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ ...simulatorEnv, TASKGATE_PUBLIC_URL: PUBLIC_URL, LOG_LEVEL: 'trace', ...env });
  const cdnPort = Number(new URL(cdn.url).port);
  const app = await buildApp(
    // Every poll goes upstream (no reuse window), and the loopback CDN may be fetched from.
    { ...config, cache: { ...config.cache, freshMs: 0 }, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } },
    { logger: { ...loggerOptions('trace'), stream } },
  );
  t.after(() => app.close());
  const get = async (url: string) => {
    const response = await app.inject({ url });
    assert.ok(!response.body.includes(MINIMAX_KEY) && !JSON.stringify(response.headers).includes(MINIMAX_KEY), `${url} answered the key`);
    return response;
  };
  return { app, get, minimax: simulators.minimax, cdn, lines };
}

const gatewayContent = (id: string) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content`;

test('a succeeded task: two upstream calls, the CDN file handed out as is, /content streams it', async (t) => {
  const { get, minimax, cdn, lines } = await stack(t);
  const fileUrl = cdn.signedUrl('sample.webm', 3600_000);
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: DONE, resultUrl: fileUrl });
  const id = `minimax:${TASK_ID}`;
  const response = await get(`/tasks/${id}`);
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual(
    { ...task, completed_at: null },
    {
      id,
      provider: 'minimax',
      provider_task_id: TASK_ID,
      status: 'succeeded',
      provider_status: 'Success',
      progress: 100,
      url: fileUrl,
      outputs: [{ type: 'video', url: fileUrl }],
      error: null,
      model: null,
      created_at: null,
      completed_at: null,
      poll_after_ms: null,
      content_url: gatewayContent(id),
      expires_at: null,
      archived_at: null,
    },
  );
  assert.match(task.completed_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(minimax.hits(TASK_ID), 2, 'the query and the file retrieval');
  const content = await get(`/tasks/${id}/content`);
  assert.equal(content.statusCode, 200);
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  assert.equal(minimax.hits(TASK_ID), 2, '/content of a finished task asks minimax nothing more');
  assert.ok(lines.length > 0 && lines.every((line) => !line.includes(MINIMAX_KEY)), 'no log line holds the key');
});

test('a bare 15-digit id is routed to minimax by the numeric-id rule', async (t) => {
  const { get, minimax } = await stack(t);
  minimax.setTask(TASK_ID, { variant: 'drifted', timeline: RUNNING });
  const task = json<Task>(await get(`/tasks/${TASK_ID}`));
  assert.deepEqual([task.id, task.provider, task.status, task.provider_status, task.progress, task.poll_after_ms], [TASK_ID, 'minimax', 'in_progress', 'Processing', null, 10_000]);
  assert.equal(minimax.hits(TASK_ID), 1, 'a running task needs no retrieval');
});

test('a failed task: Fail is failed with task_failed, and no retrieval', async (t) => {
  const { get, minimax } = await stack(t);
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: [{ atMs: 0, status: 'failed' }] });
  const task = json<Task>(await get(`/tasks/minimax:${TASK_ID}`));
  assert.deepEqual([task.status, task.provider_status, task.url, task.outputs, task.content_url], ['failed', 'Fail', null, [], null]);
  assert.equal(task.error?.code, 'task_failed');
  assert.ok(
    ['The provider reported a failure without details', 'video generation failed: the output did not pass the content review'].includes(task.error?.message ?? ''),
    task.error?.message,
  );
  assert.equal(minimax.hits(TASK_ID), 1);
});

test('an unknown task (an HTTP 200 saying it does not exist) is 404 task_not_found', async (t) => {
  const { get, minimax } = await stack(t);
  minimax.setTask(TASK_ID, { missing: true });
  const response = await get(`/tasks/minimax:${TASK_ID}`);
  assert.equal(response.statusCode, 404);
  assert.deepEqual([json(response).code, json(response).provider], ['task_not_found', 'minimax']);
  // Bare, it is asked of every digit-id provider: none has it, so a 404 naming none of them.
  const bare = await get(`/tasks/${TASK_ID}`);
  assert.deepEqual([bare.statusCode, json(bare).code], [404, 'task_not_found']);
  assert.equal(minimax.hits(TASK_ID), 1, 'the second ask was answered from the not-found memory');
});

test('a rate-limited poll (HTTP 200, base_resp 1002) is 503 upstream_rate_limited; the task is not failed and the next poll finds it', async (t) => {
  const { get, minimax } = await stack(t);
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 60_000, status: 'succeeded' }] });
  const id = `minimax:${TASK_ID}`;
  assert.equal(json<Task>(await get(`/tasks/${id}`)).status, 'in_progress');
  minimax.injectFault(TASK_ID, { kind: 'rate_limit', times: 1 });
  const limited = await get(`/tasks/${id}`);
  assert.equal(limited.statusCode, 503);
  assert.deepEqual([json(limited).code, json(limited).provider, limited.headers['retry-after']], ['upstream_rate_limited', 'minimax', '5']);
  const after = json<Task>(await get(`/tasks/${id}`));
  assert.deepEqual([after.status, after.error], ['in_progress', null]);
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
  assert.equal(json<Task>(await get(`/tasks/${id}`)).status, 'succeeded');
  assert.equal(minimax.hits(TASK_ID), 5, 'three queries, one rate limited, then the query and retrieval of the finished task');
});

test('a rate limit on the retrieval is 503 too, and the task is still there', async (t) => {
  const { get, minimax } = await stack(t);
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
  minimax.injectFault(TASK_ID, { kind: 'latency', ms: 0, times: 1 });
  minimax.injectFault(TASK_ID, { kind: 'rate_limit', times: 1 });
  const id = `minimax:${TASK_ID}`;
  assert.equal(json((await get(`/tasks/${id}`))).code, 'upstream_rate_limited');
  assert.equal(json<Task>(await get(`/tasks/${id}`)).status, 'succeeded');
  assert.equal(minimax.hits(TASK_ID), 4);
});

test('a Success whose file cannot be retrieved is 502 upstream_error, not a failed task', async (t) => {
  const { get, minimax } = await stack(t);
  minimax.setTask(TASK_ID, { variant: 'retrieve_fails', timeline: DONE });
  const response = await get(`/tasks/minimax:${TASK_ID}`);
  assert.equal(response.statusCode, 502);
  assert.deepEqual([json(response).code, json(response).detail], ['upstream_error', 'minimax could not retrieve the result file of a succeeded task (base_resp 1000)']);
  assert.equal(minimax.hits(TASK_ID), 2);
});

test('the two calls share one deadline: each fits UPSTREAM_TIMEOUT_MS alone, both together do not', async (t) => {
  const { get, minimax } = await stack(t, { UPSTREAM_TIMEOUT_MS: '1000' });
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
  minimax.injectFault(TASK_ID, { kind: 'latency', ms: 600, times: 2 });
  const response = await get(`/tasks/minimax:${TASK_ID}`);
  assert.equal(response.statusCode, 504);
  assert.deepEqual([json(response).code, json(response).provider], ['upstream_timeout', 'minimax']);
  assert.equal(minimax.hits(TASK_ID), 2, 'the retrieval was made, on what the query left');
  // Control: one slow call alone fits the budget.
  minimax.injectFault(TASK_ID, { kind: 'latency', ms: 600, times: 1 });
  assert.equal(json<Task>(await get(`/tasks/minimax:${TASK_ID}`)).status, 'succeeded');
  assert.equal(minimax.hits(TASK_ID), 4);
});

test('the lookup times out at UPSTREAM_TIMEOUT_MS when the retrieval hangs, after exactly one query and one retrieval', async (t) => {
  const { get, minimax } = await stack(t, { UPSTREAM_TIMEOUT_MS: '500' });
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
  minimax.injectFault(TASK_ID, { kind: 'latency', ms: 0, times: 1 });
  minimax.injectFault(TASK_ID, { kind: 'hang', times: 1 });
  const response = await get(`/tasks/minimax:${TASK_ID}`);
  assert.equal(response.statusCode, 504);
  assert.equal(json(response).code, 'upstream_timeout');
  assert.equal(minimax.hits(TASK_ID), 2);
  // Control: with the faults spent, the same lookup within the same budget succeeds.
  assert.equal(json<Task>(await get(`/tasks/minimax:${TASK_ID}`)).status, 'succeeded');
});

test('a wrong MINIMAX_API_KEY (an HTTP 200 with base_resp 2049) is 502 upstream_auth_failed, and the wrong key is not echoed', async (t) => {
  const wrongKey = 'mm-wrong-key-5e1d0c7a';
  const { get, minimax, lines } = await stack(t, { MINIMAX_API_KEY: wrongKey });
  minimax.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
  const response = await get(`/tasks/minimax:${TASK_ID}`);
  assert.equal(response.statusCode, 502);
  assert.deepEqual([json(response).code, json(response).provider], ['upstream_auth_failed', 'minimax']);
  assert.ok(!response.body.includes(wrongKey));
  assert.ok(lines.every((line) => !line.includes(wrongKey)), 'no log line holds the key');
});
