/**
 * fal end to end: `GET /tasks/fal:<model id>/<request id>` (one path segment, `/`
 * percent-encoded) against the fal simulator: the status call and, once COMPLETED, the
 * result call; each failure shape; the subpath never sent; no key in answers or logs.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KLING = 'fal-ai/kling-video/v2.5-turbo/pro/image-to-video';
const uuid = (index: number) => `7a3e9c10-${index.toString(16).padStart(4, '0')}-4b2d-9e8f-0c1d2e3f4a5b`;
const nativeId = (index: number) => `${KLING}/${uuid(index)}`;
const path = (id: string) => `/tasks/${encodeURIComponent(`fal:${id}`)}`;
const gatewayContent = (id: string, output?: number) =>
  `${PUBLIC_URL}/tasks/${encodeURIComponent(`fal:${id}`)}/content${output === undefined ? '' : `?output=${output}`}`;

const FAILED: Phase[] = [{ atMs: 0, status: 'failed' }];
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

/** Every simulator and the gateway; a running task is asked again at every request (no reuse window). */
function stack(t: TestContext, options: StackOptions = {}) {
  return startStack(t, {
    ...options,
    env: { TASKGATE_PUBLIC_URL: PUBLIC_URL, ...options.env },
    configure: (config) => {
      const configured = options.configure?.(config) ?? config;
      return { ...configured, cache: { ...configured.cache, freshMs: 0 } };
    },
  });
}

test('a request followed to succeeded: one call while it waits, two once COMPLETED, its file through /content', async (t) => {
  const { app, fal } = await stack(t);
  const id = nativeId(1);
  const steps: Array<[Phase['status'], string, number]> = [
    ['queued', 'IN_QUEUE', 1],
    ['in_progress', 'IN_PROGRESS', 2],
    ['succeeded', 'COMPLETED', 4],
  ];
  for (const [status, word, hits] of steps) {
    fal.setTask(id, { variant: 'video', timeline: [{ atMs: 0, status }] });
    const response = await app.inject({ url: path(id) });
    assert.equal(response.statusCode, 200);
    const task = json<Task>(response);
    assert.deepEqual([task.status, task.provider_status, task.progress], [status, word, status === 'succeeded' ? 100 : null]);
    assert.equal(fal.hits(id), hits, `${status}: the upstream calls so far`);
    if (status !== 'succeeded') assert.deepEqual([task.poll_after_ms, task.outputs, task.url], [1000, [], null]);
  }
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual(
    { ...task },
    {
      id: `fal:${id}`,
      provider: 'fal',
      provider_task_id: id,
      status: 'succeeded',
      provider_status: 'COMPLETED',
      progress: 100,
      // The simulator's own /files/ is on the provider's origin: served through the gateway.
      url: gatewayContent(id, 0),
      outputs: [{ type: 'video', url: gatewayContent(id, 0) }],
      error: null,
      model: KLING,
      created_at: null,
      completed_at: null,
      poll_after_ms: null,
      content_url: gatewayContent(id),
      expires_at: null,
      archived_at: null,
    },
  );
  assert.equal(fal.hits(id), 4, 'a succeeded task is served from memory');
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
});

test('files on the public CDN are handed out as they are, and /content streams them', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const cdnPort = Number(new URL(cdn.url).port);
  const { app, fal } = await stack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } }) });
  const id = nativeId(2);
  const link = cdn.signedUrl('sample.webm', 60_000);
  fal.setTask(id, { variant: 'videos', timeline: DONE, resultUrl: link });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.url, task.outputs], ['succeeded', link, [{ type: 'video', url: link }]]);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.equal(cdn.hits('sample.webm'), 1);
});

test('an image model: its images through the gateway, typed image', async (t) => {
  const { app, fal } = await stack(t);
  const id = `fal-ai/flux/dev/${uuid(3)}`;
  fal.setTask(id, { variant: 'images', timeline: DONE });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.model, task.outputs], ['succeeded', 'fal-ai/flux/dev', [{ type: 'image', url: gatewayContent(id, 0) }]]);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'image/webp']);
});

test('the subpath is never sent: another subpath of the same app is the same request at fal', async (t) => {
  const { app, fal } = await stack(t);
  fal.setTask(nativeId(4), { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
  // The simulator answers 404 for an app path with a subpath in it: this id is found only via fal-ai/kling-video.
  const other = `fal-ai/kling-video/v2.6/pro/text-to-video/${uuid(4)}`;
  const response = await app.inject({ url: path(other) });
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual([task.id, task.provider_task_id, task.model, task.status], [`fal:${other}`, other, 'fal-ai/kling-video/v2.6/pro/text-to-video', 'in_progress']);
  assert.equal(fal.hits(nativeId(4)), 1);
});

test('each failure shape is a failed Task with its error', async (t) => {
  const { app, fal, config } = await stack(t);
  const errorTypes = ['request_timeout', 'runner_scheduling_failure', 'runner_disconnected', 'runner_server_error'];
  const cases: Array<{ variant: string; word: string; code: (code: string) => boolean; hits: number }> = [
    { variant: 'status_error', word: 'COMPLETED', code: (code) => errorTypes.includes(code), hits: 1 },
    { variant: 'status_failed', word: 'FAILED', code: (code) => code === 'task_failed', hits: 1 },
    { variant: 'detail_list', word: 'COMPLETED', code: (code) => ['content_policy_violation', 'image_load_error', 'literal_error'].includes(code), hits: 2 },
    { variant: 'detail_string', word: 'COMPLETED', code: (code) => code === 'task_failed', hits: 2 },
    // A typed 5xx is retried by the gateway like any 5xx before it is read as the request's error.
    { variant: 'request_error', word: 'COMPLETED', code: (code) => errorTypes.includes(code), hits: 2 + config.upstreamRetries },
  ];
  for (const [index, { variant, word, code, hits }] of cases.entries()) {
    const id = nativeId(10 + index);
    fal.setTask(id, { variant, timeline: FAILED });
    const response = await app.inject({ url: path(id) });
    assert.equal(response.statusCode, 200, variant);
    const task = json<Task>(response);
    assert.deepEqual([task.status, task.provider_status, task.url, task.outputs, task.content_url], ['failed', word, null, [], null], variant);
    assert.ok(task.error !== null && code(task.error.code) && task.error.message !== '', `${variant}: ${JSON.stringify(task.error)}`);
    assert.equal(fal.hits(id), hits, variant);
  }
});

test("docs/providers/fal.md's refused request: running, then COMPLETED with a 422 content_policy_violation", async (t) => {
  // Its story lasts 4 s; a thousandth of that here.
  const { app, fal } = await stack(t, { timeScale: 0.001 });
  const id = `${KLING}/80e732af-660e-45cd-bd63-580e4f2a94cc`;
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'in_progress');
  await sleep(20);
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.provider_status, task.error], ['failed', 'COMPLETED', { code: 'content_policy_violation', message: 'content flagged' }]);
  assert.equal(fal.hits(id), 3);
});

test('CANCELLED is canceled, without a result call', async (t) => {
  const { app, fal } = await stack(t);
  const id = nativeId(20);
  fal.setTask(id, { timeline: [{ atMs: 0, status: 'canceled' }] });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.error, task.poll_after_ms], ['canceled', null, null]);
  assert.ok(['CANCELLED', 'CANCELED'].includes(task.provider_status));
  assert.equal(fal.hits(id), 1);
});

test('an unknown request is task_not_found; an id without its model is a 400 and asks nothing', async (t) => {
  const { app, fal } = await stack(t);
  const id = nativeId(30);
  fal.setTask(id, { missing: true });
  const missing = await app.inject({ url: path(id) });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'fal']);
  const bare = await app.inject({ url: path(uuid(30)) });
  assert.equal(bare.statusCode, 400);
  assert.equal(json(bare).code, 'invalid_task_id');
  const unqualified = await app.inject({ url: `/tasks/${encodeURIComponent(id)}` });
  assert.equal(json(unqualified).code, 'no_provider_for_task_id');
  assert.equal(fal.hits(), 1);
});

test('fal failing is not the request failing: an untyped 5xx on the result call is upstream_error, and the next poll succeeds', async (t) => {
  const { app, fal, config } = await stack(t);
  const id = nativeId(40);
  fal.setTask(id, { variant: 'video', timeline: DONE });
  // The status call passes, then every attempt at the result call meets fal's plain 503.
  fal.injectFault(id, { kind: 'latency', ms: 0, times: 1 });
  fal.injectFault(id, { kind: 'status', status: 503, times: 1 + config.upstreamRetries });
  const failing = await app.inject({ url: path(id) });
  assert.equal(failing.statusCode, 502);
  assert.deepEqual([json(failing).code, json(failing).provider], ['upstream_error', 'fal']);
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.equal(task.status, 'succeeded');
});

test('429 is upstream_rate_limited with its Retry-After; a wrong FAL_KEY is upstream_auth_failed', async (t) => {
  const { app, fal } = await stack(t);
  const id = nativeId(50);
  fal.injectFault(id, { kind: 'rate_limit', retryAfter: 7 });
  const limited = await app.inject({ url: path(id) });
  assert.equal(limited.statusCode, 503);
  assert.deepEqual([json(limited).code, limited.headers['retry-after']], ['upstream_rate_limited', '7']);
  const wrong = await stack(t, { env: { FAL_KEY: 'not-the-key' } });
  const refused = await wrong.app.inject({ url: path(id) });
  assert.equal(refused.statusCode, 502);
  assert.deepEqual([json(refused).code, json(refused).provider], ['upstream_auth_failed', 'fal']);
});

test('the key reaches fal as Authorization: Key and nowhere else: not in answers, not in trace logs', async (t) => {
  const key = PROVIDER_KEYS.fal;
  assert.ok(key !== undefined);
  const fal = await startSimulator({ provider: 'fal', credentials: { apiKey: key } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = await buildApp(loadConfig({ ...fal.env, LOG_LEVEL: 'trace', TASKGATE_PUBLIC_URL: PUBLIC_URL }), { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await fal.close();
  });
  const bodies: string[] = [];
  for (const [index, script] of [
    { variant: 'video', timeline: DONE },
    { variant: 'detail_list', timeline: FAILED },
    { variant: 'status_error', timeline: FAILED },
    { timeline: [{ atMs: 0, status: 'queued' as const }] },
  ].entries()) {
    fal.setTask(nativeId(60 + index), script);
    const response = await app.inject({ url: path(nativeId(60 + index)) });
    assert.equal(response.statusCode, 200);
    bodies.push(response.body, JSON.stringify(response.headers));
  }
  const content = await app.inject({ url: `${path(nativeId(60))}/content` });
  assert.equal(content.statusCode, 200, 'the simulator accepted the gateway\'s Key header for the file too');
  bodies.push(JSON.stringify(content.headers));
  assert.ok(fal.receivedHeaderNames().has('authorization'));
  assert.ok(lines.length > 0, 'trace logs were written');
  for (const text of [...bodies, ...lines]) assert.ok(!text.includes(key), `the key leaked: ${text.slice(0, 300)}`);
});
