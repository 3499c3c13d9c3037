/**
 * replicate end to end: `GET /tasks/{prediction id}` (routed by its form, or qualified)
 * against the replicate simulator: a prediction followed to succeeded and to failed, its
 * files through `/content`, files on the public CDN handed out as they are, removed data
 * (succeeded, url = content_url, `/content` 410), not-found, throttling, and the token
 * nowhere but in the upstream request.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DATA_REMOVED } from '../../src/providers/replicate/simulator.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
/** A prediction id of Replicate's form, one per test. */
const predictionId = (index: number) => `rt${index.toString().padStart(24, '0')}`;
const path = (id: string) => `/tasks/${id}`;
const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}/tasks/${id}/content${output === undefined ? '' : `?output=${output}`}`;
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

test('a prediction followed to succeeded: starting, processing, succeeded, its video through /content', async (t) => {
  const { app, replicate } = await stack(t);
  const id = predictionId(1);
  const steps: Array<[Phase['status'], string]> = [
    ['queued', 'starting'],
    ['in_progress', 'processing'],
    ['succeeded', 'succeeded'],
  ];
  for (const [index, [status, word]] of steps.entries()) {
    replicate.setTask(id, { variant: 'string', model: 'minimax/video-01', timeline: [{ atMs: 0, status, progress: status === 'in_progress' ? 40 : undefined }] });
    const response = await app.inject({ url: path(id) });
    assert.equal(response.statusCode, 200);
    const task = json<Task>(response);
    assert.deepEqual([task.status, task.provider_status, task.progress], [status, word, status === 'succeeded' ? 100 : null]);
    assert.equal(replicate.hits(id), index + 1, `${status}: one call per poll`);
    if (status !== 'succeeded') assert.deepEqual([task.poll_after_ms, task.outputs, task.url, task.completed_at], [2000, [], null, null]);
  }
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.equal(replicate.hits(id), 3, 'a succeeded task is served from memory');
  assert.match(task.created_at ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.deepEqual(
    { ...task, created_at: null, completed_at: null },
    {
      id,
      provider: 'replicate',
      provider_task_id: id,
      status: 'succeeded',
      provider_status: 'succeeded',
      progress: 100,
      // The simulator's own /files/ is on the provider's origin: served through the gateway.
      url: gatewayContent(id, 0),
      outputs: [{ type: 'video', url: gatewayContent(id, 0) }],
      error: null,
      model: 'minimax/video-01',
      created_at: null,
      completed_at: null,
      poll_after_ms: null,
      content_url: gatewayContent(id),
      expires_at: null,
      archived_at: null,
    },
  );
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
});

test('an object output: the video and its thumbnail, typed by extension, each through /content', async (t) => {
  const { app, replicate } = await stack(t);
  const id = predictionId(2);
  replicate.setTask(id, { variant: 'object', timeline: DONE });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual(task.outputs, [
    { type: 'video', url: gatewayContent(id, 0) },
    { type: 'image', url: gatewayContent(id, 1) },
  ]);
  assert.equal(task.url, gatewayContent(id, 0));
  const thumbnail = await app.inject({ url: `${path(id)}/content?output=1` });
  assert.deepEqual([thumbnail.statusCode, thumbnail.headers['content-type']], [200, 'image/webp']);
  assert.deepEqual(thumbnail.rawPayload, loadAsset('thumbnail.webp').bytes);
});

test('files on the public CDN are handed out as they are, and /content streams them without the token', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const cdnPort = Number(new URL(cdn.url).port);
  const { app, replicate } = await stack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } }) });
  const id = predictionId(3);
  const link = cdn.signedUrl('sample.webm', 60_000);
  replicate.setTask(id, { variant: 'array', timeline: DONE, resultUrl: link });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.url, task.outputs, task.content_url], ['succeeded', link, [{ type: 'video', url: link }], gatewayContent(id)]);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.equal(cdn.hits('sample.webm'), 1);
  assert.ok(!cdn.requests('sample.webm')[0]!.headerNames.includes('authorization'), 'the token never reaches the file host');
});

test('a prediction followed to failed: its error string as the Task error', async (t) => {
  // Two seconds of story at a hundredth of the speed.
  const { app, replicate } = await stack(t, { timeScale: 0.01 });
  const id = predictionId(4);
  replicate.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }, { atMs: 2000, status: 'failed' }] });
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'in_progress');
  await sleep(40);
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.provider_status, task.url, task.outputs, task.content_url, task.poll_after_ms], ['failed', 'failed', null, [], null, null]);
  assert.equal(task.error?.code, 'task_failed');
  assert.ok(
    ['NSFW content detected. Try running it again, or try a different prompt.', 'CUDA out of memory. Tried to allocate 2.00 GiB', 'Prediction failed: the input image could not be read.'].includes(task.error?.message ?? ''),
    task.error?.message,
  );
  assert.equal(replicate.hits(id), 2);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);
});

test("docs/providers/replicate.md's failed prediction: NSFW content detected", async (t) => {
  const { app } = await stack(t, { timeScale: 0.001 });
  const id = 'gm3qorzdhgbfurvjtvhg6dckhu';
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'in_progress');
  await sleep(20);
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.error, task.model], ['failed', { code: 'task_failed', message: 'NSFW content detected' }, 'minimax/video-01']);
});

test('canceled and aborted are both canceled, without an error', async (t) => {
  // A tenth of a second of story at a hundredth of the speed.
  const { app, replicate } = await stack(t, { timeScale: 0.01 });
  const cases: Array<[string, Phase['status'], string]> = [
    [predictionId(5), 'in_progress', 'canceled'],
    [predictionId(6), 'queued', 'aborted'],
  ];
  for (const [id, before] of cases) {
    replicate.setTask(id, { timeline: [{ atMs: 0, status: before }, { atMs: 100, status: 'canceled' }] });
    assert.equal(json<Task>(await app.inject({ url: path(id) })).status, before);
  }
  await sleep(20);
  for (const [id, , word] of cases) {
    const task = json<Task>(await app.inject({ url: path(id) }));
    assert.deepEqual([task.status, task.provider_status, task.error, task.url, task.poll_after_ms], ['canceled', word, null, null, null], word);
    assert.equal(replicate.hits(id), 2);
  }
});

test('removed data: succeeded, url is the content URL, and /content answers 410 content_expired', async (t) => {
  const { app, replicate } = await stack(t);
  const id = predictionId(7);
  replicate.setTask(id, { variant: 'string', timeline: [{ atMs: 0, status: 'succeeded', providerStatus: DATA_REMOVED }] });
  const response = await app.inject({ url: path(id) });
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual(
    [task.status, task.provider_status, task.progress, task.url, task.outputs, task.content_url, task.error],
    ['succeeded', 'succeeded', 100, gatewayContent(id), [], gatewayContent(id), null],
  );
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 410);
  assert.deepEqual([json(content).code, json(content).provider], ['content_expired', 'replicate']);
});

test('an unknown prediction is task_not_found; an id of another form is a 400 and asks nothing', async (t) => {
  const { app, replicate } = await stack(t);
  const id = predictionId(8);
  replicate.setTask(id, { missing: true });
  for (const asked of [id, `replicate:${id}`]) {
    const missing = await app.inject({ url: path(asked) });
    assert.equal(missing.statusCode, 404, asked);
    assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'replicate']);
  }
  const malformed = await app.inject({ url: path('replicate:NOT-A-PREDICTION') });
  assert.equal(malformed.statusCode, 400);
  assert.equal(json(malformed).code, 'invalid_task_id');
  assert.equal(replicate.hits(id), 1, 'the not-found answer is remembered, whichever way the id was asked');
  assert.equal(replicate.hits(), replicate.hits(id));
});

test('429 is upstream_rate_limited with its Retry-After, or the delay its detail names; a wrong token is upstream_auth_failed', async (t) => {
  const { app, replicate } = await stack(t);
  const id = predictionId(9);
  replicate.setTask(id, { timeline: DONE });
  replicate.injectFault(id, { kind: 'rate_limit', retryAfter: 7, times: 1 });
  const limited = await app.inject({ url: path(id) });
  assert.equal(limited.statusCode, 503);
  assert.deepEqual([json(limited).code, limited.headers['retry-after']], ['upstream_rate_limited', '7']);
  // No header: "Expected available in 1 second."
  replicate.injectFault(id, { kind: 'rate_limit', times: 1 });
  const named = await app.inject({ url: path(id) });
  assert.deepEqual([named.statusCode, json(named).code, named.headers['retry-after']], [503, 'upstream_rate_limited', '1']);
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'succeeded');

  const wrong = await stack(t, { env: { REPLICATE_API_TOKEN: 'r8_not-the-token' } });
  const refused = await wrong.app.inject({ url: path(id) });
  assert.equal(refused.statusCode, 502);
  assert.deepEqual([json(refused).code, json(refused).provider], ['upstream_auth_failed', 'replicate']);
  assert.doesNotMatch(refused.body, /authentication token/);
});

test('the token reaches Replicate as Authorization: Bearer and nowhere else: not in answers, not in trace logs', async (t) => {
  const token = PROVIDER_KEYS.replicate;
  assert.ok(token !== undefined);
  const replicate = await startSimulator({ provider: 'replicate', credentials: { apiKey: token } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = await buildApp(loadConfig({ ...replicate.env, LOG_LEVEL: 'trace', TASKGATE_PUBLIC_URL: PUBLIC_URL }), { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await replicate.close();
  });
  const bodies: string[] = [];
  for (const [index, script] of [
    { variant: 'object', timeline: DONE },
    { timeline: [{ atMs: 0, status: 'failed' as const }] },
    { timeline: [{ atMs: 0, status: 'succeeded' as const, providerStatus: DATA_REMOVED }] },
    { timeline: [{ atMs: 0, status: 'queued' as const }] },
  ].entries()) {
    replicate.setTask(predictionId(20 + index), script);
    const response = await app.inject({ url: path(predictionId(20 + index)) });
    assert.equal(response.statusCode, 200);
    bodies.push(response.body, JSON.stringify(response.headers));
  }
  for (const url of [`${path(predictionId(20))}/content`, `${path(predictionId(20))}/content?output=1`, `${path(predictionId(22))}/content`]) {
    const content = await app.inject({ url });
    bodies.push(content.body.slice(0, 2000), JSON.stringify(content.headers));
  }
  assert.ok(replicate.receivedHeaderNames().has('authorization'));
  assert.ok(lines.length > 0, 'trace logs were written');
  for (const text of [...bodies, ...lines]) assert.ok(!text.includes(token), `the token leaked: ${text.slice(0, 300)}`);
});
