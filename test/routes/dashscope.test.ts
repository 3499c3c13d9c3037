/**
 * dashscope end to end: `GET /tasks/{uuid}` and `GET /tasks/dashscope:{uuid}` against the
 * dashscope simulator: a task followed to succeeded (its signed link's expiry as the
 * Task's `expires_at`, and so how long it is served from memory), failed and canceled,
 * UNKNOWN as 404, an ambiguous UUID won by the provider that has it, its API errors, and
 * the key kept out of answers, logs and the public file origin.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { ProviderName } from '../../src/providers/index.js';
import { UUID_PATTERN } from '../../src/providers/dashscope/map.js';
import { loggerOptions } from '../../src/server.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import type { RoutingRule } from '../../src/routing.js';
import { json, PROVIDER_KEYS, startSimulators } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KEY = PROVIDER_KEYS.dashscope;
/** In the simulator's share of UUIDs (it has them by default), and not. */
const OWNED_ID = 'd5c00006-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
const FOREIGN_ID = 'd5c00000-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

interface StackOptions {
  env?: Record<string, string>;
  /** Rules put before the default table. */
  routes?: RoutingRule[];
  unconfigured?: ProviderName[];
}

async function stack(t: TestContext, options: StackOptions = {}) {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const { simulators, env: simulatorEnv } = await startSimulators(t, { unconfigured: options.unconfigured });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ ...simulatorEnv, TASKGATE_PUBLIC_URL: PUBLIC_URL, LOG_LEVEL: 'trace', ...options.env });
  const cdnPort = Number(new URL(cdn.url).port);
  const app = await buildApp(
    // Every poll of a running task goes upstream, and the loopback CDN may be fetched from.
    {
      ...config,
      routes: [...(options.routes ?? []), ...config.routes],
      cache: { ...config.cache, freshMs: 0 },
      content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] },
    },
    { logger: { ...loggerOptions('trace'), stream } },
  );
  t.after(() => app.close());
  const get = async (url: string) => {
    const response = await app.inject({ url });
    assert.ok(!response.body.includes(KEY) && !JSON.stringify(response.headers).includes(KEY), `${url} answered the key`);
    return response;
  };
  return { app, config, get, simulators, dashscope: simulators.dashscope, cdn, lines };
}

const gatewayContent = (id: string, output?: number) =>
  `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;

test('a task followed to succeeded: its CDN video handed out as it is, expires_at from the link, /content without the key', async (t) => {
  const { get, dashscope, cdn, lines } = await stack(t);
  const link = cdn.signedUrl('sample.webm', HOUR_MS);
  const expires = Number(new URL(link).searchParams.get('expires'));
  const id = `dashscope:${OWNED_ID}`;
  const steps: Array<[Phase['status'], string]> = [
    ['queued', 'PENDING'],
    ['in_progress', 'RUNNING'],
  ];
  for (const [status, word] of steps) {
    dashscope.setTask(OWNED_ID, { variant: 'video', resultUrl: link, timeline: [{ atMs: 0, status }] });
    const task = json<Task>(await get(`/tasks/${id}`));
    assert.deepEqual([task.status, task.provider_status, task.progress, task.url, task.outputs, task.poll_after_ms], [status, word, null, null, [], 15_000]);
  }
  dashscope.setTask(OWNED_ID, { variant: 'video', resultUrl: link, timeline: DONE });
  const response = await get(`/tasks/${id}`);
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual(
    { ...task, created_at: null, completed_at: null },
    {
      id,
      provider: 'dashscope',
      provider_task_id: OWNED_ID,
      status: 'succeeded',
      provider_status: 'SUCCEEDED',
      progress: 100,
      url: link,
      outputs: [{ type: 'video', url: link }],
      error: null,
      model: null,
      created_at: null,
      completed_at: null,
      poll_after_ms: null,
      content_url: gatewayContent(id),
      expires_at: new Date(expires * 1000).toISOString().replace('.000Z', 'Z'),
      archived_at: null,
    },
  );
  // The simulator's China-time strings come back as the UTC instants they were written from.
  assert.ok(Date.parse(task.completed_at ?? '') - Date.parse(task.created_at ?? '') >= 0);
  assert.ok(Math.abs(Date.parse(task.created_at ?? '') - Date.now()) < HOUR_MS, `created_at ${task.created_at} is not now read as UTC+8`);
  assert.equal(dashscope.hits(OWNED_ID), 3);
  assert.equal(json<Task>(await get(`/tasks/${id}`)).status, 'succeeded');
  assert.equal(dashscope.hits(OWNED_ID), 3, 'a succeeded task whose link is alive is served from memory');
  const content = await get(`/tasks/${id}/content`);
  assert.equal(content.statusCode, 200);
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  const [fetched] = cdn.requests('sample.webm');
  assert.ok(fetched !== undefined && !fetched.headerNames.includes('authorization'), 'no credential reached the public file origin');
  assert.ok(lines.length > 0 && lines.every((line) => !line.includes(KEY)), 'no log line holds the key');
});

test("the simulator's own signed file: served through /content, expires_at 24 h after completed_at (China time read right)", async (t) => {
  const { get, dashscope } = await stack(t);
  dashscope.setTask(OWNED_ID, { variant: 'video', timeline: DONE });
  const id = `dashscope:${OWNED_ID}`;
  const task = json<Task>(await get(`/tasks/${id}`));
  assert.deepEqual([task.status, task.url, task.outputs], ['succeeded', gatewayContent(id, 0), [{ type: 'video', url: gatewayContent(id, 0) }]]);
  assert.equal(Date.parse(task.expires_at ?? '') - Date.parse(task.completed_at ?? ''), DAY_MS);
  const content = await get(`/tasks/${id}/content`);
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'video/webm']);
});

test('an image task: every result an image output, each through /content', async (t) => {
  const { get, dashscope } = await stack(t);
  dashscope.setTask(OWNED_ID, { variant: 'image', timeline: DONE });
  const id = `dashscope:${OWNED_ID}`;
  const task = json<Task>(await get(`/tasks/${id}`));
  assert.equal(task.status, 'succeeded');
  assert.ok(task.outputs.length === 1 || task.outputs.length === 2, JSON.stringify(task.outputs));
  assert.deepEqual(task.outputs, task.outputs.map((_, index) => ({ type: 'image', url: gatewayContent(id, index) })));
  assert.equal(task.url, gatewayContent(id, 0));
  const content = await get(`/tasks/${id}/content?output=${task.outputs.length - 1}`);
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'image/webp']);
});

test('a failed task is failed with output.code and output.message; a canceled one is canceled', async (t) => {
  const { get, dashscope } = await stack(t);
  const failedId = 'd5c00002-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
  dashscope.setTask(failedId, { variant: 'video', timeline: [{ atMs: 0, status: 'failed' }] });
  const failed = json<Task>(await get(`/tasks/dashscope:${failedId}`));
  assert.deepEqual(
    [failed.status, failed.provider_status, failed.error, failed.url, failed.outputs, failed.content_url, failed.expires_at],
    ['failed', 'FAILED', { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }, null, [], null, null],
  );
  dashscope.setTask(OWNED_ID, { variant: 'image', timeline: [{ atMs: 0, status: 'canceled' }] });
  const canceled = json<Task>(await get(`/tasks/dashscope:${OWNED_ID}`));
  assert.deepEqual([canceled.status, canceled.provider_status, canceled.error, canceled.poll_after_ms], ['canceled', 'CANCELED', null, null]);
  assert.deepEqual([dashscope.hits(failedId), dashscope.hits(OWNED_ID)], [1, 1]);
});

test('UNKNOWN (an HTTP 200) is 404 task_not_found, remembered for a while; a malformed id is a 400 that asks nothing', async (t) => {
  // The other UUID providers unconfigured: a bare UUID is then asked of DashScope alone.
  const { get, dashscope } = await stack(t, { unconfigured: ['runway', 'luma'] });
  for (const id of [`dashscope:${FOREIGN_ID}`, FOREIGN_ID]) {
    const response = await get(`/tasks/${id}`);
    assert.equal(response.statusCode, 404, id);
    assert.deepEqual([json(response).code, json(response).provider], ['task_not_found', 'dashscope']);
  }
  assert.equal(dashscope.hits(FOREIGN_ID), 1, 'the second ask was answered from the not-found memory');
  const malformed = await get('/tasks/dashscope:966cebcd-dedc-4962-af88');
  assert.equal(malformed.statusCode, 400);
  assert.equal(json(malformed).code, 'invalid_task_id');
  assert.match(String(json(malformed).detail), /a dashscope task id is a UUID/);
  assert.equal(dashscope.hits(), 1);
});

test('a bare UUID goes by the default UUID rule, dashscope its last candidate', async (t) => {
  const { get, config, simulators, dashscope } = await stack(t);
  const rule = config.routes.find((route) => route.pattern === UUID_PATTERN);
  assert.equal(rule?.providers.at(-1), 'dashscope');
  // Whatever other UUID providers the registry has do not have this task.
  for (const name of rule?.providers ?? []) if (name !== 'dashscope') simulators[name as ProviderName].setTask(OWNED_ID, { missing: true });
  dashscope.setTask(OWNED_ID, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
  const task = json<Task>(await get(`/tasks/${OWNED_ID.toUpperCase()}`));
  // The simulator keys tasks by the id as sent: upper case is its own (unpinned, owned) task.
  assert.deepEqual([task.id, task.provider, task.provider_task_id], [OWNED_ID.toUpperCase(), 'dashscope', OWNED_ID.toUpperCase()]);
  const running = json<Task>(await get(`/tasks/${OWNED_ID}`));
  assert.deepEqual([running.provider, running.status, running.provider_status, running.poll_after_ms], ['dashscope', 'in_progress', 'RUNNING', 15_000]);
  assert.equal(dashscope.hits(OWNED_ID), 1);
});

test('an ambiguous UUID is asked of every candidate at once: the one that has it wins, and is remembered', async (t) => {
  // The UUID providers besides dashscope are stood in for by openai (any one-segment id is its form).
  const { get, simulators, dashscope } = await stack(t, { routes: [{ pattern: UUID_PATTERN, providers: ['openai', 'dashscope'] }] });
  const { openai } = simulators;
  dashscope.setTask(OWNED_ID, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
  for (let poll = 0; poll < 3; poll++) {
    const task = json<Task>(await get(`/tasks/${OWNED_ID}`));
    assert.deepEqual([task.id, task.provider, task.provider_task_id, task.status], [OWNED_ID, 'dashscope', OWNED_ID, 'in_progress']);
  }
  assert.deepEqual([openai.hits(OWNED_ID), dashscope.hits(OWNED_ID)], [1, 3], 'openai said 404 once; then dashscope alone');

  // Neither has it: both are asked, DashScope's UNKNOWN is a "not found" like openai's 404.
  const missing = await get(`/tasks/${FOREIGN_ID}`);
  assert.deepEqual([missing.statusCode, json(missing).code], [404, 'task_not_found']);
  assert.deepEqual([openai.hits(FOREIGN_ID), dashscope.hits(FOREIGN_ID)], [1, 1]);

  // Both have it: the first candidate of the rule wins.
  const both = 'd5c0000b-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
  openai.setTask(both, { variant: 'openai', timeline: DONE });
  dashscope.setTask(both, { variant: 'video', timeline: DONE });
  assert.equal(json<Task>(await get(`/tasks/${both}`)).provider, 'openai');
});

test('an ambiguous UUID while DashScope fails: the failure, not a 404', async (t) => {
  const { get, simulators, dashscope } = await stack(t, { routes: [{ pattern: UUID_PATTERN, providers: ['openai', 'dashscope'] }] });
  dashscope.injectFault(OWNED_ID, { kind: 'status', status: 503 });
  const response = await get(`/tasks/${OWNED_ID}`);
  assert.deepEqual([response.statusCode, json(response).code, json(response).provider], [502, 'upstream_error', 'dashscope']);
  assert.equal(simulators.openai.hits(OWNED_ID), 1);
});

test('a bare UUID with DashScope unconfigured is not asked of it: no UUID provider configured is 503 provider_not_configured', async (t) => {
  const { get, dashscope } = await stack(t, { unconfigured: ['dashscope', 'runway', 'luma'] });
  const response = await get(`/tasks/${OWNED_ID}`);
  assert.deepEqual([response.statusCode, json(response).code], [503, 'provider_not_configured']);
  assert.equal(dashscope.hits(), 0);
  const qualified = await get(`/tasks/dashscope:${OWNED_ID}`);
  assert.deepEqual([qualified.statusCode, json(qualified).code, json(qualified).provider], [503, 'provider_not_configured', 'dashscope']);
});

test('a terminal task whose link has died is not served from memory: each poll asks again for a fresh link', async (t) => {
  const { get, dashscope, cdn } = await stack(t);
  dashscope.setTask(OWNED_ID, { variant: 'video', timeline: DONE, resultUrl: cdn.signedUrl('sample.webm', -60_000) });
  const id = `dashscope:${OWNED_ID}`;
  for (let poll = 0; poll < 2; poll++) {
    const task = json<Task>(await get(`/tasks/${id}`));
    assert.ok(Date.parse(task.expires_at ?? '') < Date.now(), `expires_at ${task.expires_at}`);
  }
  assert.equal(dashscope.hits(OWNED_ID), 2);
});

test('429 is upstream_rate_limited with its Retry-After; a wrong DASHSCOPE_API_KEY is upstream_auth_failed and not echoed', async (t) => {
  const { get, dashscope } = await stack(t);
  dashscope.setTask(OWNED_ID, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
  dashscope.injectFault(OWNED_ID, { kind: 'rate_limit', retryAfter: 7, times: 1 });
  const limited = await get(`/tasks/dashscope:${OWNED_ID}`);
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '7']);
  assert.equal(json<Task>(await get(`/tasks/dashscope:${OWNED_ID}`)).status, 'in_progress', 'the task is as it was');

  const wrongKey = 'sk-wrong-5e1d0c7a';
  const wrong = await stack(t, { env: { DASHSCOPE_API_KEY: wrongKey } });
  const refused = await wrong.get(`/tasks/dashscope:${OWNED_ID}`);
  assert.deepEqual([refused.statusCode, json(refused).code, json(refused).provider], [502, 'upstream_auth_failed', 'dashscope']);
  assert.ok(!refused.body.includes(wrongKey));
  assert.ok(wrong.lines.every((line) => !line.includes(wrongKey)), 'no log line holds the key');
});

test('an API error inside an HTTP 200 is never a failed task', async (t) => {
  const { get, dashscope } = await stack(t);
  dashscope.setTask(OWNED_ID, { raw: { status: 200, body: { request_id: 'r-1', code: 'Throttling', message: 'Requests throttled, please try again later.' } } });
  const limited = await get(`/tasks/dashscope:${OWNED_ID}`);
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '5']);
  dashscope.setTask(OWNED_ID, { raw: { status: 200, body: { request_id: 'r-2', code: 'InvalidApiKey', message: 'Invalid API-key provided.' } } });
  assert.equal(json(await get(`/tasks/dashscope:${OWNED_ID}`)).code, 'upstream_auth_failed');
});
