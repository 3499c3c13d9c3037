import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { PROVIDERS } from '../../src/providers/index.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { serializeTask, TaskSchema, type Task } from '../../schemas/task.js';
import { json, startStack } from '../helpers/stack.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];

test('a succeeded vtrix task comes back in the normalized shape', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('d758n65e878c73cmdg20', { variant: 'model', timeline: DONE, model: 'spark_dance_v2_0' });
  const response = await app.inject({ url: '/tasks/d758n65e878c73cmdg20' });
  assert.equal(response.statusCode, 200);
  const task = TaskSchema.parse(json(response));
  assert.equal(task.id, 'd758n65e878c73cmdg20');
  assert.equal(task.provider, 'vtrix');
  assert.equal(task.provider_task_id, 'd758n65e878c73cmdg20');
  assert.equal(task.status, 'succeeded');
  assert.equal(task.provider_status, 'completed');
  assert.equal(task.progress, 100);
  assert.equal(task.model, 'spark_dance_v2_0');
  assert.equal(task.error, null);
  assert.equal(task.poll_after_ms, null);
  assert.match(task.url ?? '', /^https?:\/\//);
  assert.deepEqual(task.outputs[0], { type: 'video', url: task.url });
  assert.match(task.created_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('the seeded gravitex video task has succeeded with the seed URL', async (t) => {
  const { app } = await startStack(t);
  const response = await app.inject({ url: '/tasks/video_69095b4ce0048190893a01510c0c98b0' });
  assert.equal(response.statusCode, 200);
  const task = TaskSchema.parse(json(response));
  assert.equal(task.provider, 'gravitex');
  assert.equal(task.status, 'succeeded');
  assert.equal(task.provider_status, 'succeeded');
  // seeds/gravitex-query-video-task.txt, "Response Example (Completed)": its URL, verbatim.
  const seedUrl = 'https://gravitex-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4';
  assert.equal(task.url, seedUrl);
  assert.deepEqual(task.outputs, [{ type: 'video', url: seedUrl }]);
  assert.equal(task.content_url, 'http://localhost:80/tasks/video_69095b4ce0048190893a01510c0c98b0/content');
  assert.equal(task.progress, 100);
  assert.equal(task.poll_after_ms, null);
});

test('a running task says when to poll again and is not cacheable', async (t) => {
  const { app, vtrix, config } = await startStack(t);
  vtrix.setTask('task_run001', { variant: 'model', timeline: RUNNING });
  const response = await app.inject({ url: '/tasks/task_run001' });
  assert.equal(response.statusCode, 200);
  const task = TaskSchema.parse(json(response));
  assert.equal(task.status, 'in_progress');
  assert.equal(task.progress, 40);
  assert.equal(task.url, null);
  assert.equal(task.poll_after_ms, config.providers.vtrix!.pollIntervalMs);
  assert.equal(response.headers['cache-control'], 'no-cache');
});

test('a failed task is a 200 with status failed and an error', async (t) => {
  const { app, gravitex } = await startStack(t);
  gravitex.setTask('video_fa11ed00000000000000000000000000', { variant: 'wrapped', timeline: [{ atMs: 0, status: 'failed' }] });
  const response = await app.inject({ url: '/tasks/video_fa11ed00000000000000000000000000' });
  assert.equal(response.statusCode, 200);
  const task = TaskSchema.parse(json(response));
  assert.equal(task.status, 'failed');
  // docs/providers/gravitex.md gravitex variant 2: `"error": {"message": "task failed", "code": "failed"}`.
  assert.deepEqual(task.error, { code: 'failed', message: 'task failed' });
  assert.equal(task.provider_status, 'failed');
  assert.equal(task.url, null);
  assert.equal(task.content_url, null);
  assert.equal(task.poll_after_ms, null);
});

test('a qualified id goes to the named provider with the native id', async (t) => {
  const { app, gravitex, vtrix } = await startStack(t);
  gravitex.setTask('task_abc001', { variant: 'documented', timeline: DONE });
  const response = await app.inject({ url: '/tasks/gravitex:task_abc001' });
  assert.equal(response.statusCode, 200);
  const task = TaskSchema.parse(json(response));
  assert.equal(task.id, 'gravitex:task_abc001');
  assert.equal(task.provider, 'gravitex');
  assert.equal(task.provider_task_id, 'task_abc001');
  assert.equal(gravitex.hits('task_abc001'), 1);
  assert.equal(vtrix.hits(), 0);
});

test('terminal tasks get an ETag and private max-age; If-None-Match answers 304', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_etag01', { variant: 'model', timeline: DONE });
  const first = await app.inject({ url: '/tasks/task_etag01' });
  assert.equal(first.statusCode, 200);
  const etag = first.headers.etag;
  assert.match(String(etag), /^"[^"]+"$/);
  assert.match(String(first.headers['cache-control']), /^private, max-age=\d+$/);
  const again = await app.inject({ url: '/tasks/task_etag01', headers: { 'if-none-match': String(etag) } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, '');
  const other = await app.inject({ url: '/tasks/task_etag01', headers: { 'if-none-match': '"something-else"' } });
  assert.equal(other.statusCode, 200);
});

test('the ETag stays while the task is unchanged, and changes when it changes', async (t) => {
  const { app, vtrix } = await startStack(t, { configure: (config) => ({ ...config, cache: { ...config.cache, freshMs: 0 } }) });
  vtrix.setTask('task_change1', { variant: 'model', timeline: RUNNING });
  const running = await app.inject({ url: '/tasks/task_change1' });
  // Asked of the provider again (no reuse window), the same state: the same validator, so a 304.
  const again = await app.inject({ url: '/tasks/task_change1' });
  assert.equal(vtrix.hits('task_change1'), 2);
  assert.equal(again.headers.etag, running.headers.etag);
  const unchanged = await app.inject({ url: '/tasks/task_change1', headers: { 'if-none-match': String(running.headers.etag) } });
  assert.equal(unchanged.statusCode, 304);
  vtrix.setTask('task_change1', { variant: 'model', timeline: DONE });
  const done = await app.inject({ url: '/tasks/task_change1' });
  assert.notEqual(running.headers.etag, done.headers.etag);
  const stale = await app.inject({ url: '/tasks/task_change1', headers: { 'if-none-match': String(running.headers.etag) } });
  assert.equal(stale.statusCode, 200);
});

test('X-Request-Id is echoed when given and generated otherwise', async (t) => {
  const { app } = await startStack(t);
  const echoed = await app.inject({ url: '/tasks/nope', headers: { 'x-request-id': 'abc-123' } });
  assert.equal(echoed.headers['x-request-id'], 'abc-123');
  assert.equal(json(echoed).request_id, 'abc-123');
  const generated = await app.inject({ url: '/healthz' });
  assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  const unsafe = await app.inject({ url: '/tasks/nope', headers: { 'x-request-id': 'bad id with spaces' } });
  // Not echoed: a fresh id replaces it, in the header and in the problem alike.
  assert.match(String(unsafe.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(json(unsafe).request_id, unsafe.headers['x-request-id']);
  for (const given of ['x'.repeat(129), 'line\u0001break', '']) {
    const refused = await app.inject({ url: '/healthz', headers: { 'x-request-id': given } });
    assert.match(String(refused.headers['x-request-id']), /^[0-9a-f-]{36}$/, JSON.stringify(given));
  }
});

test('client headers are never forwarded upstream; only our key goes', async (t) => {
  // A recording upstream instead of the simulator: the headers it received are the evidence.
  const received: IncomingHttpHeaders[] = [];
  const upstream = createServer((request, response) => {
    received.push(request.headers);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ id: 'task_hdr001', status: 'in_progress', progress: 0.5 }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const { port } = upstream.address() as AddressInfo;
  const app = await buildApp(loadConfig({ VTRIX_API_KEY: 'our-vtrix-key', VTRIX_BASE_URL: `http://127.0.0.1:${port}` }), { logger: false });
  t.after(() => app.close());

  const response = await app.inject({
    url: '/tasks/task_hdr001',
    headers: { authorization: 'Bearer client-key', cookie: 'session=1', 'x-forwarded-for': '203.0.113.9', 'x-custom': 'leak' },
  });
  assert.equal(response.statusCode, 200);
  assert.equal(received.length, 1);
  const headers = received[0]!;
  assert.equal(headers.authorization, 'Bearer our-vtrix-key');
  for (const name of ['cookie', 'x-forwarded-for', 'x-custom']) assert.equal(headers[name], undefined, name);
});

test('healthz and readyz answer, listing each configured provider with its circuit', async (t) => {
  const { app, config } = await startStack(t, { unconfigured: ['gravitex'] });
  assert.deepEqual(json(await app.inject({ url: '/healthz' })), { status: 'ok' });
  const ready = await app.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  const providers = json<{ providers: Record<string, { configured: boolean; circuit: string }> }>(ready).providers;
  for (const name of Object.keys(config.providers)) {
    assert.deepEqual(providers[name], { configured: name !== 'gravitex', circuit: 'closed' }, name);
  }
});

test('readyz is 503 with the reason when no provider at all is configured', async (t) => {
  const app = await buildApp(loadConfig({}), { logger: false });
  t.after(() => app.close());
  const response = await app.inject({ url: '/readyz' });
  assert.equal(response.statusCode, 503);
  assert.equal(json(response).code, 'service_unavailable');
  const detail = String(json(response).detail);
  assert.match(detail, /^No provider is configured: set the credentials of at least one \(/);
  // Every provider of the registry, with the variables that would configure it.
  for (const provider of PROVIDERS) assert.ok(detail.includes(`${provider.name}: ${provider.credentials.map((spec) => spec.env).join(' + ')}`), provider.name);
});

test('during the shutdown delay /readyz is 503 while /tasks keeps answering', async (t) => {
  // A delay long enough that the two asks below fall inside it, however slow the machine.
  const { app, vtrix } = await startStack(t, { configure: (config) => ({ ...config, shutdownDelayMs: 2000 }) });
  vtrix.setTask('task_sd_delay1', { variant: 'model', timeline: DONE });
  const stopping = app.shutdown();
  const draining = await app.inject({ url: '/readyz' });
  assert.equal(draining.statusCode, 503);
  assert.equal(json(draining).code, 'service_unavailable');
  const task = await app.inject({ url: '/tasks/task_sd_delay1' });
  assert.equal(task.statusCode, 200);
  assert.equal(json(task).status, 'succeeded');
  await stopping;
});

test("a Task's JSON has the schema's fields, in the schema's order, and nothing else the object carries", () => {
  const task: Task = TaskSchema.parse({
    archived_at: null,
    expires_at: '2026-12-08T00:00:00.000Z',
    content_url: 'https://gw.example/tasks/task_abc001/content',
    poll_after_ms: null,
    completed_at: '2026-12-07T00:01:00.000Z',
    created_at: '2026-12-07T00:00:00.000Z',
    model: 'v1',
    error: null,
    outputs: [{ type: 'video', url: 'https://cdn.example/v.mp4' }],
    url: 'https://cdn.example/v.mp4',
    progress: 100,
    provider_status: 'completed',
    status: 'succeeded',
    provider_task_id: 'task_abc001',
    provider: 'vtrix',
    id: 'task_abc001',
  });
  // Fields in reverse order, and one the schema does not have (a state's private mark, say).
  const reversed = { ...Object.fromEntries(Object.entries(task).reverse()), filesRemoved: true } as unknown as Task;
  const written = serializeTask(reversed);
  assert.deepEqual(Object.keys(JSON.parse(written) as object), Object.keys(TaskSchema.shape));
  assert.deepEqual(TaskSchema.strict().parse(JSON.parse(written)), task);
});
