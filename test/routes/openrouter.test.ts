/**
 * openrouter end to end: `GET /tasks/openrouter:<job id>` against the openrouter simulator,
 * from pending to completed; its files (on OpenRouter's own origin, behind the key) handed
 * out as gateway URLs and streamed by `/content` with the key; failures, expiry,
 * cancellation, not-found, and no key in any answer or log line.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { EXPIRED_MESSAGE } from '../../src/providers/openrouter/map.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator, type Phase } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KEY = PROVIDER_KEYS.openrouter;
const WEBM = loadAsset('sample.webm');
const MP4 = loadAsset('sample.mp4');
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

const tasks = (id: string) => `/tasks/${encodeURIComponent(id)}`;
const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}${tasks(id)}/content${output === undefined ? '' : `?output=${output}`}`;

function stack(t: TestContext, options: StackOptions = {}) {
  return startStack(t, {
    ...options,
    env: { TASKGATE_PUBLIC_URL: PUBLIC_URL, ...options.env },
    // Every poll asks upstream: the tests move a job along by pinning its next phase.
    configure: (config) => {
      const fresh = { ...config, cache: { ...config.cache, freshMs: 0 } };
      return options.configure === undefined ? fresh : options.configure(fresh);
    },
  });
}

test('a job followed from pending to completed: its video a gateway URL, never the provider\'s', async (t) => {
  const { app, openrouter } = await stack(t);
  const jobId = 'job-followed01';
  const id = `openrouter:${jobId}`;
  openrouter.setTask(jobId, { variant: 'one_url', timeline: [{ atMs: 0, status: 'queued' }] });
  const pending = await app.inject({ url: tasks(id) });
  assert.equal(pending.statusCode, 200);
  assert.deepEqual(json<Task>(pending), {
    id,
    provider: 'openrouter',
    provider_task_id: jobId,
    status: 'queued',
    provider_status: 'pending',
    progress: null,
    url: null,
    outputs: [],
    error: null,
    model: null,
    created_at: null,
    completed_at: null,
    poll_after_ms: 10_000,
    content_url: null,
    expires_at: null,
    archived_at: null,
  });

  openrouter.setTask(jobId, { variant: 'one_url', timeline: [{ atMs: 0, status: 'in_progress' }] });
  const running = json<Task>(await app.inject({ url: tasks(id) }));
  assert.deepEqual([running.status, running.provider_status, running.poll_after_ms], ['in_progress', 'in_progress', 10_000]);

  openrouter.setTask(jobId, { variant: 'one_url', timeline: DONE });
  const done = await app.inject({ url: tasks(id) });
  const task = json<Task>(done);
  assert.deepEqual(
    [task.status, task.provider_status, task.progress, task.error, task.poll_after_ms],
    ['succeeded', 'completed', 100, null, null],
  );
  assert.deepEqual(task.outputs, [{ type: 'video', url: gatewayContent(id, 0) }]);
  assert.deepEqual([task.url, task.content_url], [gatewayContent(id, 0), gatewayContent(id)]);
  assert.ok(!done.body.includes(openrouter.url) && !done.body.includes('/api/v1/videos/'), 'no provider URL reaches the client');
  assert.equal(openrouter.hits(jobId), 3, 'one status call per poll');
  assert.ok(openrouter.receivedHeaderNames().has('authorization'));
});

test("/content streams the job's file from OpenRouter's origin with the key, which the provider requires", async (t) => {
  const { app, openrouter } = await stack(t);
  const jobId = 'job-content01';
  const id = `openrouter:${jobId}`;
  openrouter.setTask(jobId, { variant: 'two_urls', timeline: DONE });
  const task = json<Task>(await app.inject({ url: tasks(id) }));
  assert.deepEqual(task.outputs, [
    { type: 'video', url: gatewayContent(id, 0) },
    { type: 'video', url: gatewayContent(id, 1) },
  ]);

  // The provider's own link refuses anyone without the key: the bytes below prove the gateway sent it.
  const direct = await request(`${openrouter.url}/api/v1/videos/${jobId}/content?index=0`);
  assert.equal(direct.statusCode, 401);
  await direct.body.dump();

  const first = await app.inject({ url: `${tasks(id)}/content` });
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers['content-type'], 'video/webm');
  assert.deepEqual(first.rawPayload, WEBM.bytes);
  const second = await app.inject({ url: `${tasks(id)}/content?output=1` });
  assert.equal(second.statusCode, 200);
  assert.equal(second.headers['content-type'], 'video/mp4');
  assert.deepEqual(second.rawPayload, MP4.bytes);
  const range = await app.inject({ url: `${tasks(id)}/content`, headers: { range: 'bytes=0-1023' } });
  assert.equal(range.statusCode, 206);
  assert.deepEqual(range.rawPayload, WEBM.bytes?.subarray(0, 1024));
  for (const answer of [first, second, range]) assert.ok(!JSON.stringify(answer.headers).includes(KEY));
});

test('failed with its error as given, expired as task_failed, cancelled: no files, no content', async (t) => {
  const { app, openrouter } = await stack(t);
  openrouter.setTask('job-failed01', { variant: 'error_object', timeline: [{ atMs: 0, status: 'failed' }] });
  const failed = json<Task>(await app.inject({ url: tasks('openrouter:job-failed01') }));
  assert.deepEqual([failed.status, failed.provider_status, failed.url, failed.outputs, failed.content_url], ['failed', 'failed', null, [], null]);
  assert.ok(['content_policy_violation', 'provider_error'].includes(failed.error?.code ?? ''), JSON.stringify(failed.error));

  const seeded = json<Task>(await app.inject({ url: tasks('openrouter:job-fail001') }));
  assert.equal(seeded.status, 'in_progress', 'the seeded failure runs first');
  openrouter.setTask('job-failed02', { variant: 'error_string', timeline: [{ atMs: 0, status: 'failed' }] });
  const text = json<Task>(await app.inject({ url: tasks('openrouter:job-failed02') }));
  assert.equal(text.error?.code, 'task_failed');
  assert.match(text.error?.message ?? '', /\.$/);

  openrouter.setTask('job-expired01', { variant: 'expired', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'expired' }] });
  const expired = json<Task>(await app.inject({ url: tasks('openrouter:job-expired01') }));
  assert.deepEqual([expired.status, expired.provider_status, expired.error], ['failed', 'expired', { code: 'task_failed', message: EXPIRED_MESSAGE }]);

  openrouter.setTask('job-cancel01', { timeline: [{ atMs: 0, status: 'canceled' }] });
  const cancelled = json<Task>(await app.inject({ url: tasks('openrouter:job-cancel01') }));
  assert.deepEqual([cancelled.status, cancelled.provider_status, cancelled.error, cancelled.url], ['canceled', 'cancelled', null, null]);

  const content = await app.inject({ url: `${tasks('openrouter:job-failed01')}/content` });
  assert.equal(content.statusCode, 409);
  assert.equal(json(content).code, 'task_not_ready');
});

test("openrouter's 404 is task_not_found; a bare job id routes nowhere; an id it cannot have is a 400 and nothing goes upstream", async (t) => {
  const { app, openrouter } = await stack(t);
  openrouter.setTask('job-gone01', { missing: true });
  const missing = await app.inject({ url: tasks('openrouter:job-gone01') });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'openrouter']);
  assert.equal(openrouter.hits('job-gone01'), 1);

  const before = openrouter.hits();
  const bare = await app.inject({ url: tasks('job-abc123') });
  assert.equal(bare.statusCode, 404);
  assert.equal(json(bare).code, 'no_provider_for_task_id');
  const malformed = await app.inject({ url: tasks('openrouter:jobs/abc123') });
  assert.equal(malformed.statusCode, 400);
  assert.equal(json(malformed).code, 'invalid_task_id');
  assert.match(String(json(malformed).detail), /a openrouter task id is one path segment/);
  assert.equal(openrouter.hits(), before);
});

test('a key OpenRouter does not know is upstream_auth_failed; its 429 upstream_rate_limited with Retry-After', async (t) => {
  const { app, openrouter } = await stack(t, { env: { OPENROUTER_API_KEY: 'sk-or-v1-not-the-one' } });
  const refused = await app.inject({ url: tasks('openrouter:job-anykey01') });
  assert.equal(refused.statusCode, 502);
  assert.deepEqual([json(refused).code, json(refused).provider], ['upstream_auth_failed', 'openrouter']);
  assert.ok(!refused.body.includes('sk-or-v1-not-the-one') && !refused.body.includes('User not found'));
  assert.equal(openrouter.hits('job-anykey01'), 1);

  const { app: keyed, openrouter: limited } = await stack(t);
  limited.injectFault('job-limited01', { kind: 'rate_limit', retryAfter: 7 });
  const answer = await keyed.inject({ url: tasks('openrouter:job-limited01') });
  assert.equal(answer.statusCode, 503);
  assert.deepEqual([json(answer).code, answer.headers['retry-after']], ['upstream_rate_limited', '7']);
});

test('no answer, header or log line carries the key, whatever happens', async (t) => {
  const simulator = await startSimulator({ provider: 'openrouter', credentials: { apiKey: KEY } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ OPENROUTER_API_KEY: KEY, OPENROUTER_BASE_URL: simulator.url, LOG_LEVEL: 'trace', CIRCUIT_FAILURE_THRESHOLD: '0' });
  const app = await buildApp({ ...config, cache: { ...config.cache, freshMs: 0 } }, { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await simulator.close();
  });
  simulator.setTask('job-logged01', { variant: 'one_url', timeline: DONE });
  simulator.setTask('job-loggedfail01', { variant: 'error_string', timeline: [{ atMs: 0, status: 'failed' }] });
  simulator.injectFault('job-loggedfault01', { kind: 'status', status: 500 });
  simulator.injectFault('job-loggedlimit01', { kind: 'rate_limit' });
  const answers = [];
  for (const url of [
    tasks('openrouter:job-logged01'),
    `${tasks('openrouter:job-logged01')}/content`,
    tasks('openrouter:job-loggedfail01'),
    tasks('openrouter:job-loggedfault01'),
    tasks('openrouter:job-loggedlimit01'),
    tasks('openrouter:job-missing01'),
  ]) {
    answers.push(await app.inject({ url }));
  }
  assert.deepEqual(answers.map((answer) => answer.statusCode), [200, 200, 200, 502, 503, 404]);
  assert.ok(lines.length > 0, 'the gateway logged');
  for (const answer of answers) {
    assert.ok(!JSON.stringify(answer.headers).includes(KEY));
    if (answer.headers['content-type'] !== 'video/webm') assert.ok(!answer.body.includes(KEY), answer.body.slice(0, 300));
  }
  for (const line of lines) assert.ok(!line.includes(KEY), line.slice(0, 300));
});
