/**
 * runway end to end: `GET /tasks/{uuid}` (routed by its form, or qualified) against the
 * runway simulator, which refuses any call without `X-Runway-Version`: a task followed
 * from THROTTLED to succeeded and to failed, its files through `/content`, files on the
 * public CDN handed out as they are, an ambiguous UUID probed and remembered, not-found,
 * throttling, and the key nowhere but in the upstream request.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { THROTTLED } from '../../src/providers/runway/simulator.js';
import { loggerOptions } from '../../src/server.js';
import { holdsShare } from '../../src/simulators/timeline.js';
import { startSimulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const UUID_RULE = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
/** A task id of Runway's form, one per test. */
/** The index-th UUID of this form in Runway's share (the other UUID providers' simulators hold the rest). */
const taskId = (index: number): string => {
  let found = -1;
  for (let suffix = 0; ; suffix++) {
    const id = `7a3e5c1b-2d4f-4e6a-9b8c-${suffix.toString(16).padStart(12, '0')}`;
    if (holdsShare('uuid', 'runway', id) && ++found === index) return id;
  }
};
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

test('a task followed to succeeded: THROTTLED and PENDING queued, RUNNING with its fraction as a percentage, its video through /content', async (t) => {
  const { app, runway } = await stack(t);
  const id = taskId(1);
  const steps: Array<[Phase, Task['status'], string, number | null]> = [
    [{ atMs: 0, status: 'queued', providerStatus: THROTTLED }, 'queued', 'THROTTLED', null],
    [{ atMs: 0, status: 'queued' }, 'queued', 'PENDING', null],
    [{ atMs: 0, status: 'in_progress', progress: 42 }, 'in_progress', 'RUNNING', 42],
    [{ atMs: 0, status: 'succeeded' }, 'succeeded', 'SUCCEEDED', 100],
  ];
  for (const [index, [phase, status, word, progress]] of steps.entries()) {
    runway.setTask(id, { variant: 'video', timeline: [phase] });
    const response = await app.inject({ url: path(id) });
    assert.equal(response.statusCode, 200);
    const task = json<Task>(response);
    assert.deepEqual([task.provider, task.status, task.provider_status, task.progress], ['runway', status, word, progress]);
    assert.equal(runway.hits(id), index + 1, `${word}: one call per poll`);
    if (status !== 'succeeded') assert.deepEqual([task.poll_after_ms, task.outputs, task.url, task.error], [5000, [], null, null]);
  }
  // The simulator answers nothing without the version header: the gateway sent it.
  assert.ok(runway.receivedHeaderNames().has('x-runway-version'));
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.equal(runway.hits(id), 4, 'a succeeded task is served from memory');
  assert.match(task.created_at ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.deepEqual(
    { ...task, created_at: null },
    {
      id,
      provider: 'runway',
      provider_task_id: id,
      status: 'succeeded',
      provider_status: 'SUCCEEDED',
      progress: 100,
      // The simulator's own /files/ is on the provider's origin: served through the gateway.
      url: gatewayContent(id, 0),
      outputs: [{ type: 'video', url: gatewayContent(id, 0) }],
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
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
});

test('a text-to-image task: its output is an image, through /content', async (t) => {
  const { app, runway } = await stack(t);
  const id = taskId(2);
  runway.setTask(id, { variant: 'image', timeline: DONE });
  const qualified = `runway:${id}`;
  const task = json<Task>(await app.inject({ url: path(qualified) }));
  const imageUrl = gatewayContent(encodeURIComponent(qualified), 0);
  assert.deepEqual([task.id, task.status, task.outputs, task.url], [qualified, 'succeeded', [{ type: 'image', url: imageUrl }], imageUrl]);
  const image = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([image.statusCode, image.headers['content-type']], [200, 'image/jpeg']);
  assert.deepEqual(image.rawPayload, loadAsset('thumbnail.jpg').bytes);
});

test('files on the public CDN are handed out as they are, and /content streams them without the key or the version header', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const cdnPort = Number(new URL(cdn.url).port);
  const { app, runway } = await stack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } }) });
  const id = taskId(3);
  const link = cdn.signedUrl('sample.webm', 60_000);
  runway.setTask(id, { variant: 'video', timeline: DONE, resultUrl: link });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.url, task.outputs, task.content_url], ['succeeded', link, [{ type: 'video', url: link }], gatewayContent(id)]);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.equal(cdn.hits('sample.webm'), 1);
  const sent = cdn.requests('sample.webm')[0]!.headerNames;
  assert.ok(!sent.includes('authorization') && !sent.includes('x-runway-version'), `the file host got ${sent.join(', ')}`);
});

test('a task followed to failed: failureCode is the code, failure the message', async (t) => {
  // Two seconds of story at a hundredth of the speed.
  const { app, runway } = await stack(t, { timeScale: 0.01 });
  const id = taskId(4);
  runway.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }, { atMs: 2000, status: 'failed' }] });
  const running = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([running.status, running.progress], ['in_progress', 30]);
  await sleep(40);
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.provider_status, task.progress, task.url, task.outputs, task.content_url, task.poll_after_ms], ['failed', 'FAILED', null, null, [], null, null]);
  const failures = new Map([
    ['SAFETY.INPUT.TEXT', 'Your prompt was flagged by our content moderation.'],
    ['SAFETY.INPUT.IMAGE', 'The input image was flagged by our content moderation.'],
    ['SAFETY.OUTPUT.VIDEO', 'The generated video was flagged by our content moderation.'],
    ['INTERNAL.BAD_OUTPUT', 'An unexpected error occurred while generating the video.'],
    ['task_failed', 'An unexpected error occurred.'],
  ]);
  assert.equal(task.error?.message, failures.get(task.error?.code ?? ''), JSON.stringify(task.error));
  assert.equal(runway.hits(id), 2);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);
});

test("the documented stories: the example's video on Runway's CDN; the moderation failure", async (t) => {
  const { app } = await stack(t, { timeScale: 0.001 });
  const example = '63fd0f13-f29d-4e58-99d3-1cb9efa14a5b';
  const failed = '9b2e7c41-5d3a-4f8e-b6c2-0a7d1e4f3c85';
  assert.equal(json<Task>(await app.inject({ url: path(example) })).status, 'queued');
  assert.equal(json<Task>(await app.inject({ url: path(failed) })).status, 'in_progress');
  await sleep(40);
  const video = json<Task>(await app.inject({ url: path(example) }));
  const link = 'https://dnznrvs05pmza.cloudfront.net/7d1c2e9a-4b3f-4a8e-9c21-5e6f7a8b9c0d/video.mp4?_jwt=example-signed-link';
  assert.deepEqual([video.status, video.url, video.outputs], ['succeeded', link, [{ type: 'video', url: link }]]);
  const refused = json<Task>(await app.inject({ url: path(failed) }));
  assert.deepEqual([refused.status, refused.error], ['failed', { code: 'SAFETY.INPUT.TEXT', message: 'Your prompt was flagged by our content moderation.' }]);
});

test('CANCELLED is canceled, without an error', async (t) => {
  const { app, runway } = await stack(t);
  const id = taskId(5);
  runway.setTask(id, { timeline: [{ atMs: 0, status: 'canceled' }] });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.status, task.provider_status, task.error, task.url, task.poll_after_ms], ['canceled', 'CANCELLED', null, null, null]);
});

test('an ambiguous UUID is asked of every candidate; the one that has it answers, and is remembered', async (t) => {
  // Luma and DashScope share the UUID form; here another configured provider stands in for them.
  const { app, runway, openai } = await stack(t, {
    configure: (config) => ({ ...config, routes: [{ pattern: UUID_RULE, providers: ['runway', 'openai'] }, ...config.routes] }),
  });
  const onlyRunway = taskId(6);
  runway.setTask(onlyRunway, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress', progress: 20 }] });
  openai.setTask(onlyRunway, { missing: true });
  const first = json<Task>(await app.inject({ url: path(onlyRunway) }));
  assert.deepEqual([first.provider, first.status, first.progress], ['runway', 'in_progress', 20]);
  assert.deepEqual([runway.hits(onlyRunway), openai.hits(onlyRunway)], [1, 1]);

  const elsewhere = taskId(7);
  runway.setTask(elsewhere, { missing: true });
  openai.setTask(elsewhere, { variant: 'openai', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  for (let poll = 0; poll < 3; poll++) assert.equal(json<Task>(await app.inject({ url: path(elsewhere) })).provider, 'openai');
  assert.deepEqual([runway.hits(elsewhere), openai.hits(elsewhere)], [1, 3], 'runway was only asked the first time');

  const nowhere = taskId(8);
  for (const simulator of [runway, openai]) simulator.setTask(nowhere, { missing: true });
  const missing = await app.inject({ url: path(nowhere) });
  assert.deepEqual([missing.statusCode, json(missing).code], [404, 'task_not_found']);
  assert.deepEqual([runway.hits(nowhere), openai.hits(nowhere)], [1, 1]);
});

test('with only runway configured among the candidates, a bare UUID asks runway alone', async (t) => {
  const { app, runway, openai } = await stack(t, {
    unconfigured: ['openai'],
    configure: (config) => ({ ...config, routes: [{ pattern: UUID_RULE, providers: ['runway', 'openai'] }, ...config.routes] }),
  });
  const id = taskId(9);
  runway.setTask(id, { timeline: DONE });
  assert.equal(json<Task>(await app.inject({ url: path(id) })).provider, 'runway');
  assert.deepEqual([runway.hits(id), openai.hits()], [1, 0]);
});

test('an unknown task is task_not_found; an id of another form is a 400 and asks nothing', async (t) => {
  const { app, runway } = await stack(t);
  const id = taskId(10);
  runway.setTask(id, { missing: true });
  const missing = await app.inject({ url: path(`runway:${id}`) });
  assert.deepEqual([missing.statusCode, json(missing).code, json(missing).provider], [404, 'task_not_found', 'runway']);
  for (const malformed of ['runway:task_abc001', `runway:${id.replaceAll('-', '')}`]) {
    const answer = await app.inject({ url: path(malformed) });
    assert.deepEqual([answer.statusCode, json(answer).code], [400, 'invalid_task_id'], malformed);
  }
  assert.equal(runway.hits(), 1);
});

test('the simulator refuses a call without X-Runway-Version, as Runway does; the gateway always sends it', async (t) => {
  const { app, runway } = await stack(t);
  const id = taskId(11);
  runway.setTask(id, { timeline: DONE });
  const direct = await request(`${runway.url}/v1/tasks/${id}`, { headers: { authorization: `Bearer ${PROVIDER_KEYS.runway}` } });
  assert.equal(direct.statusCode, 400);
  assert.deepEqual(await direct.body.json(), { error: 'The X-Runway-Version header is required.' });
  const through = await app.inject({ url: path(id) });
  assert.deepEqual([through.statusCode, json<Task>(through).status], [200, 'succeeded']);
  assert.equal(runway.hits(id), 2);
});

test('429 (the daily cap) is upstream_rate_limited with its Retry-After; a wrong key is upstream_auth_failed', async (t) => {
  const { app, runway } = await stack(t);
  const id = taskId(12);
  runway.setTask(id, { timeline: DONE });
  runway.injectFault(id, { kind: 'rate_limit', retryAfter: 7, times: 1 });
  const limited = await app.inject({ url: path(id) });
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '7']);
  runway.injectFault(id, { kind: 'rate_limit', times: 1 });
  const unnamed = await app.inject({ url: path(id) });
  assert.deepEqual([unnamed.statusCode, unnamed.headers['retry-after']], [503, '5']);
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'succeeded');

  const wrong = await stack(t, { env: { RUNWAYML_API_SECRET: 'key_not-the-secret' } });
  const refused = await wrong.app.inject({ url: path(id) });
  assert.equal(refused.statusCode, 502);
  assert.deepEqual([json(refused).code, json(refused).provider], ['upstream_auth_failed', 'runway']);
  assert.doesNotMatch(refused.body, /Invalid API key/);
});

test('the key reaches Runway as Authorization: Bearer and nowhere else: not in answers, not in trace logs', async (t) => {
  const key = PROVIDER_KEYS.runway;
  assert.ok(key !== undefined);
  const runway = await startSimulator({ provider: 'runway', credentials: { apiKey: key } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = await buildApp(loadConfig({ ...runway.env, LOG_LEVEL: 'trace', TASKGATE_PUBLIC_URL: PUBLIC_URL }), { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await runway.close();
  });
  const bodies: string[] = [];
  for (const [index, script] of [
    { variant: 'video', timeline: DONE },
    { variant: 'image', timeline: DONE },
    { timeline: [{ atMs: 0, status: 'failed' as const }] },
    { timeline: [{ atMs: 0, status: 'queued' as const, providerStatus: THROTTLED }] },
  ].entries()) {
    runway.setTask(taskId(20 + index), script);
    const response = await app.inject({ url: path(taskId(20 + index)) });
    assert.equal(response.statusCode, 200);
    bodies.push(response.body, JSON.stringify(response.headers));
  }
  runway.setTask(taskId(30), { missing: true });
  bodies.push((await app.inject({ url: path(taskId(30)) })).body);
  for (const url of [`${path(taskId(20))}/content`, `${path(taskId(21))}/content`]) {
    const content = await app.inject({ url });
    assert.equal(content.statusCode, 200, url);
    bodies.push(content.body.slice(0, 2000), JSON.stringify(content.headers));
  }
  assert.ok(runway.receivedHeaderNames().has('authorization'));
  assert.ok(lines.length > 0, 'trace logs were written');
  for (const text of [...bodies, ...lines]) assert.ok(!text.includes(key), `the key leaked: ${text.slice(0, 300)}`);
});
