/**
 * The third provider end to end: `GET /tasks/openai:<id>` for each body variant against the
 * openai simulator, its files handed out as gateway URLs, its poll hint as poll_after_ms,
 * and `video_…` ids shared with gravitex.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { json, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const EXAMPLE_ID = 'video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5';
const OPENAI_ONLY_ID = `video_${'5e'.repeat(24)}`;
const GRAVITEX_FORM_ID = 'video_69095b4ce0048190893a01510c0c98b0';
const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 45 }];

function stack(t: Parameters<typeof startStack>[0], options: StackOptions = {}) {
  return startStack(t, { ...options, env: { TASKGATE_PUBLIC_URL: PUBLIC_URL, ...options.env } });
}

const gatewayContent = (id: string, output?: number) =>
  `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;

/** The request's window in whole seconds, for times the simulator stamps with its own clock. */
function assertWithin(instant: string | null, startedMs: number, endedMs: number): number {
  assert.ok(instant !== null);
  const ms = Date.parse(instant);
  assert.ok(ms >= Math.floor(startedMs / 1000) * 1000 && ms <= endedMs, `${instant} outside the request`);
  return ms;
}

test('variant 1 (OpenAI) running: progress, no files yet, poll_after_ms from openai-poll-after-ms', async (t) => {
  const { app } = await stack(t);
  const response = await app.inject({ url: `/tasks/openai:${EXAMPLE_ID}` });
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual(
    { ...task, created_at: null },
    {
      id: `openai:${EXAMPLE_ID}`,
      provider: 'openai',
      provider_task_id: EXAMPLE_ID,
      status: 'in_progress',
      provider_status: 'in_progress',
      progress: 33,
      url: null,
      outputs: [],
      error: null,
      model: 'sora-2',
      created_at: null,
      completed_at: null,
      poll_after_ms: 2000,
      content_url: null,
      expires_at: null,
      archived_at: null,
    },
  );
  assert.match(task.created_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('variant 1 (OpenAI) completed: both files as gateway URLs, content_url, expires_at an hour on', async (t) => {
  const { app, openai } = await stack(t);
  openai.setTask(OPENAI_ONLY_ID, { variant: 'openai', model: 'sora-2-pro', timeline: DONE });
  const id = `openai:${OPENAI_ONLY_ID}`;
  const startedMs = Date.now();
  const response = await app.inject({ url: `/tasks/${id}` });
  const endedMs = Date.now();
  const task = json<Task>(response);
  assert.deepEqual(
    [task.status, task.provider_status, task.progress, task.model, task.error, task.poll_after_ms],
    ['succeeded', 'completed', 100, 'sora-2-pro', null, null],
  );
  assert.equal(task.url, gatewayContent(id, 0));
  assert.deepEqual(task.outputs, [
    { type: 'video', url: gatewayContent(id, 0) },
    { type: 'image', url: gatewayContent(id, 1) },
  ]);
  assert.equal(task.content_url, gatewayContent(id));
  const completedMs = assertWithin(task.completed_at, startedMs, endedMs);
  assert.equal(task.expires_at, new Date(completedMs + 3600_000).toISOString().replace('.000Z', 'Z'));
  assert.equal(response.body.includes(openai.url), false, 'no provider URL reaches the client');
});

test('variant 1 (OpenAI) failed: its error, no files, no content_url', async (t) => {
  const { app, openai } = await stack(t);
  openai.setTask('video_failed', { variant: 'openai', timeline: [{ atMs: 0, status: 'failed' }] });
  const task = json<Task>(await app.inject({ url: '/tasks/openai:video_failed' }));
  assert.equal(task.status, 'failed');
  assert.ok(
    [
      '{"code":"moderation_blocked","message":"Your request was blocked by our moderation system."}',
      '{"code":"video_generation_failed","message":"Video generation failed. Please try again."}',
    ].includes(JSON.stringify(task.error)),
    JSON.stringify(task.error),
  );
  assert.deepEqual([task.url, task.outputs, task.content_url, task.expires_at, task.poll_after_ms], [null, [], null, null, null]);
});

test('variant 2 (hosted) running: no poll hint, so the SDKs\' 1 s cadence', async (t) => {
  const { app, openai } = await stack(t);
  openai.setTask(OPENAI_ONLY_ID, { variant: 'hosted', timeline: RUNNING });
  const task = json<Task>(await app.inject({ url: `/tasks/openai:${OPENAI_ONLY_ID}` }));
  assert.deepEqual([task.status, task.progress, task.poll_after_ms, task.outputs], ['in_progress', 45, 1000, []]);
});

test('variant 2 (hosted) completed: its one video file, behind the gateway when it lives on the provider\'s origin', async (t) => {
  const { app, openai } = await stack(t);
  // The simulator serves its public /files/ on its own origin, so the gateway cannot tell it from a keyed file.
  openai.setTask(OPENAI_ONLY_ID, { variant: 'hosted', timeline: DONE });
  const id = `openai:${OPENAI_ONLY_ID}`;
  const task = json<Task>(await app.inject({ url: `/tasks/${id}` }));
  assert.equal(task.status, 'succeeded');
  assert.deepEqual(task.outputs, [{ type: 'video', url: gatewayContent(id, 0) }]);
  assert.deepEqual([task.url, task.content_url], [gatewayContent(id, 0), gatewayContent(id)]);
  assert.equal(Date.parse(task.expires_at ?? '') - Date.parse(task.completed_at ?? ''), 3600_000);
});

test('variant 2 (hosted) with a URL on another host: served as is', async (t) => {
  const { app, openai } = await stack(t);
  const publicFile = 'https://api.together.ai/shrt/DwlaBdSakNRFlBxN';
  openai.setTask(OPENAI_ONLY_ID, {
    raw: { status: 200, body: { id: OPENAI_ONLY_ID, object: 'video', status: 'completed', progress: 100, outputs: { video_url: publicFile, cost: 0.4 } } },
  });
  const id = `openai:${OPENAI_ONLY_ID}`;
  const task = json<Task>(await app.inject({ url: `/tasks/${id}` }));
  assert.deepEqual([task.url, task.outputs], [publicFile, [{ type: 'video', url: publicFile }]]);
  assert.equal(task.content_url, gatewayContent(id), 'content_url is the gateway\'s whatever the provider gave');
});

test('variant 3 (relay): its own id form, milliseconds read as whole seconds, files through the gateway', async (t) => {
  const { app, openai } = await stack(t);
  openai.setTask('sora-2-relay0001', { variant: 'relay', timeline: DONE });
  const id = 'openai:sora-2-relay0001';
  const startedMs = Date.now();
  const task = json<Task>(await app.inject({ url: `/tasks/${id}` }));
  assertWithin(task.created_at, startedMs, Date.now());
  assert.deepEqual(
    [task.provider_task_id, task.status, task.url, task.outputs.length, task.content_url],
    ['sora-2-relay0001', 'succeeded', gatewayContent(id, 0), 2, gatewayContent(id)],
  );
  openai.setTask('task_relay0002', { variant: 'relay', timeline: RUNNING });
  const running = json<Task>(await app.inject({ url: '/tasks/openai:task_relay0002' }));
  assert.deepEqual([running.status, running.progress, running.poll_after_ms], ['in_progress', 45, 1000]);
});

test('openai\'s 404 is task_not_found, its 429 upstream_rate_limited with its Retry-After', async (t) => {
  const { app, openai } = await stack(t);
  openai.setTask('video_gone', { missing: true });
  const missing = await app.inject({ url: '/tasks/openai:video_gone' });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'openai']);
  openai.injectFault(OPENAI_ONLY_ID, { kind: 'rate_limit', retryAfter: 7 });
  const limited = await app.inject({ url: `/tasks/openai:${OPENAI_ONLY_ID}` });
  assert.equal(limited.statusCode, 503);
  assert.deepEqual([json(limited).code, limited.headers['retry-after']], ['upstream_rate_limited', '7']);
});

test('a wrong OPENAI_API_KEY is upstream_auth_failed', async (t) => {
  const { app } = await stack(t, { env: { OPENAI_API_KEY: 'sk-not-the-one' } });
  const response = await app.inject({ url: `/tasks/openai:${EXAMPLE_ID}` });
  assert.equal(response.statusCode, 502);
  assert.deepEqual([json(response).code, json(response).provider], ['upstream_auth_failed', 'openai']);
});

test('with both configured, a video_ id only openai has is asked of both and found at openai', async (t) => {
  const { app, gravitex, openai } = await stack(t);
  const response = await app.inject({ url: `/tasks/${EXAMPLE_ID}` });
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual([task.id, task.provider, task.provider_task_id, task.progress], [EXAMPLE_ID, 'openai', EXAMPLE_ID, 33]);
  assert.equal(gravitex.hits(EXAMPLE_ID), 1, 'gravitex was asked first in the rule');
  assert.equal(openai.hits(EXAMPLE_ID), 1);
});

test('with both configured, a video_ id both could have goes to gravitex, listed first', async (t) => {
  const { app, gravitex, openai } = await stack(t);
  openai.setTask(GRAVITEX_FORM_ID, { variant: 'openai', timeline: DONE });
  const task = json<Task>(await app.inject({ url: `/tasks/${GRAVITEX_FORM_ID}` }));
  assert.equal(task.provider, 'gravitex');
  assert.equal(gravitex.hits(GRAVITEX_FORM_ID), 1);
});

test('with gravitex unconfigured, openai alone is asked for a video_ id', async (t) => {
  const { app, gravitex, openai } = await stack(t, { unconfigured: ['gravitex'] });
  openai.setTask(OPENAI_ONLY_ID, { variant: 'openai', timeline: DONE });
  const task = json<Task>(await app.inject({ url: `/tasks/${OPENAI_ONLY_ID}` }));
  assert.deepEqual([task.provider, task.url], ['openai', gatewayContent(OPENAI_ONLY_ID, 0)]);
  assert.equal(gravitex.hits(), 0);
  assert.equal(openai.hits(OPENAI_ONLY_ID), 1);
});

test('with openai unconfigured, video_ ids go to gravitex alone, as before', async (t) => {
  const { app, gravitex, openai } = await stack(t, { unconfigured: ['openai'] });
  const task = json<Task>(await app.inject({ url: `/tasks/${GRAVITEX_FORM_ID}` }));
  assert.equal(task.provider, 'gravitex');
  assert.equal(gravitex.hits(GRAVITEX_FORM_ID), 1);
  assert.equal(openai.hits(), 0);
});
