/**
 * ark end to end: `GET /tasks/cgt-…` against the ark simulator, from running to succeeded
 * and to failed (with an error, expired, cancelled); its signed video link handed out and
 * fetched through `/content` byte for byte, UTF-8 filename in its query and all; the last
 * frame; not-found, refused keys and rate limits; no key in any answer or log line.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { EXPIRED_MESSAGE } from '../../src/providers/ark/map.js';
import { loggerOptions } from '../../src/server.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { json, PROVIDER_KEYS, startSimulators } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const TASK_ID = 'cgt-20260410143205-r0ute';
const KEY = PROVIDER_KEYS.ark;
const DONE = [{ atMs: 0, status: 'succeeded' as const }];
/** Query parameters the CDN does not sign and ignores: a UTF-8 filename (视频 1+1/2.mp4) as a signed storage link carries it. */
const UTF8_FILENAME_PARAMETERS = 'response-content-disposition=attachment%3B%20filename%2A%3DUTF-8%27%27%E8%A7%86%E9%A2%91%201%2B1%2F2.mp4&x-tos-meta=a+b%2Fc';

const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;

/** A recording front for the CDN: what request-target each request arrived with, and its headers. */
async function recordingFront(t: TestContext, cdn: Cdn) {
  const received: Array<{ url: string; headerNames: string[] }> = [];
  const front = createServer((incoming, outgoing) => {
    received.push({ url: incoming.url ?? '', headerNames: Object.keys(incoming.headers) });
    const headers: Record<string, string> = incoming.headers.range === undefined ? {} : { range: incoming.headers.range };
    request(`${cdn.url}${incoming.url ?? '/'}`, { method: incoming.method === 'HEAD' ? 'HEAD' : 'GET', headers }).then(
      (answer) => {
        outgoing.writeHead(answer.statusCode, answer.headers as Record<string, string>);
        answer.body.pipe(outgoing);
      },
      () => outgoing.destroy(),
    );
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => front.close(() => resolve())));
  return { origin: `http://127.0.0.1:${(front.address() as AddressInfo).port}`, received };
}

async function stack(t: TestContext, env: Record<string, string> = {}) {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const front = await recordingFront(t, cdn);
  const { simulators, env: simulatorEnv } = await startSimulators(t);
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ ...simulatorEnv, TASKGATE_PUBLIC_URL: PUBLIC_URL, LOG_LEVEL: 'trace', ...env });
  const allowHosts = [cdn.url, front.origin].map((origin) => ({ host: '127.0.0.1', port: Number(new URL(origin).port) }));
  const app = await buildApp(
    // Every poll goes upstream (no reuse window), and the loopback CDN (and its front) may be fetched from.
    { ...config, cache: { ...config.cache, freshMs: 0 }, content: { ...config.content, allowHosts } },
    { logger: { ...loggerOptions('trace'), stream } },
  );
  t.after(() => app.close());
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const response = await app.inject({ url, headers });
    assert.ok(!JSON.stringify(response.headers).includes(KEY), `${url} answered the key in a header`);
    if (!String(response.headers['content-type']).startsWith('video/')) assert.ok(!response.body.includes(KEY), `${url} answered the key`);
    return response;
  };
  return { get, ark: simulators.ark, cdn, front, lines };
}

test('a task followed from running to succeeded; its signed link handed out and fetched byte for byte, UTF-8 filename and all', async (t) => {
  const { get, ark, cdn, front, lines } = await stack(t);
  // The CDN's signed link, reached through the recording front, with the UTF-8 filename parameters appended.
  const link = `${cdn.signedUrl('sample.webm', 3_600_000).replace(cdn.url, front.origin)}&${UTF8_FILENAME_PARAMETERS}`;
  ark.setTask(TASK_ID, { variant: 'video', model: 'seedance-1-0-pro-250528', timeline: [{ atMs: 0, status: 'in_progress' }], resultUrl: link });
  const running = await get(`/tasks/${TASK_ID}`);
  assert.equal(running.statusCode, 200);
  const runningTask = json<Task>(running);
  assert.deepEqual({ ...runningTask, created_at: null }, {
    id: TASK_ID,
    provider: 'ark',
    provider_task_id: TASK_ID,
    status: 'in_progress',
    provider_status: 'running',
    progress: null,
    url: null,
    outputs: [],
    error: null,
    model: 'seedance-1-0-pro-250528',
    created_at: null,
    completed_at: null,
    poll_after_ms: 5000,
    content_url: null,
    expires_at: null,
    archived_at: null,
  });
  assert.match(runningTask.created_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  ark.setTask(TASK_ID, { variant: 'video', model: 'seedance-1-0-pro-250528', timeline: DONE, resultUrl: link });
  const done = json<Task>(await get(`/tasks/${TASK_ID}`));
  assert.deepEqual(
    [done.status, done.provider_status, done.progress, done.url, done.outputs, done.content_url, done.poll_after_ms],
    ['succeeded', 'succeeded', 100, link, [{ type: 'video', url: link }], gatewayContent(TASK_ID), null],
    'the link is public: handed out exactly as the provider wrote it',
  );
  assert.match(done.completed_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(ark.hits(TASK_ID), 2);

  const content = await get(`/tasks/${TASK_ID}/content`);
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  assert.equal(front.received.length, 1);
  assert.equal(front.received[0]?.url, link.slice(front.origin.length), 'the request-target is the link\'s path and query, byte for byte');
  assert.ok(!front.received[0]?.headerNames.includes('authorization'), 'no key on the file origin');
  assert.deepEqual(cdn.requests().map((record) => [record.name, record.status]), [['sample.webm', 200]]);
  assert.equal(ark.hits(TASK_ID), 2, '/content of a finished task asks Ark nothing more');
  assert.ok(lines.length > 0 && lines.every((line) => !line.includes(KEY)), 'no log line holds the key');
});

test('with a last frame: the video as Ark gives it, the frame from the provider origin through /content', async (t) => {
  const { get, ark, cdn } = await stack(t);
  const link = cdn.signedUrl('sample.webm', 3_600_000);
  ark.setTask(TASK_ID, { variant: 'last_frame', timeline: DONE, resultUrl: link });
  const task = json<Task>(await get(`/tasks/${TASK_ID}`));
  assert.deepEqual(task.outputs, [
    { type: 'video', url: link },
    { type: 'image', url: gatewayContent(TASK_ID, 1) },
  ]);
  assert.equal(task.url, link);
  const frame = await get(`/tasks/${TASK_ID}/content?output=1`);
  assert.equal(frame.statusCode, 200);
  assert.equal(frame.headers['content-type'], 'image/jpeg');
  assert.deepEqual(frame.rawPayload, loadAsset('thumbnail.jpg').bytes);
  assert.equal(cdn.hits(), 0, 'the frame is not on the CDN');
});

test('failed with an error, expired without one, cancelled: each a terminal task without files', async (t) => {
  const { get, ark } = await stack(t);
  ark.setTask(TASK_ID, { raw: { status: 200, body: { id: TASK_ID, status: 'failed', error: { code: 'OutputVideoSensitiveContentDetected', message: 'The generated video may contain sensitive content.' }, created_at: 1743414619, updated_at: 1743414690 } } });
  const failed = json<Task>(await get(`/tasks/${TASK_ID}`));
  assert.deepEqual(
    [failed.status, failed.provider_status, failed.error, failed.url, failed.outputs, failed.content_url, failed.created_at, failed.completed_at],
    ['failed', 'failed', { code: 'OutputVideoSensitiveContentDetected', message: 'The generated video may contain sensitive content.' }, null, [], null, '2025-03-31T09:50:19Z', '2025-03-31T09:51:30Z'],
  );
  const content = await get(`/tasks/${TASK_ID}/content`);
  assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);

  // A finished task is not asked again: each story has an id of its own.
  const expiredId = 'cgt-20260410143205-exp1r';
  ark.setTask(expiredId, { variant: 'expired', timeline: [{ atMs: 0, status: 'failed' }] });
  const expired = json<Task>(await get(`/tasks/${expiredId}`));
  assert.deepEqual([expired.status, expired.provider_status, expired.error], ['failed', 'expired', { code: 'expired', message: EXPIRED_MESSAGE }]);

  const cancelledId = 'cgt-20260410143205-canc1';
  ark.setTask(cancelledId, { timeline: [{ atMs: 0, status: 'canceled' }] });
  const cancelled = json<Task>(await get(`/tasks/${cancelledId}`));
  assert.deepEqual([cancelled.status, cancelled.provider_status, cancelled.error, cancelled.url], ['canceled', 'cancelled', null, null]);
  assert.deepEqual([ark.hits(TASK_ID), ark.hits(expiredId), ark.hits(cancelledId)], [1, 1, 1]);
});

test("Ark's 404 is task_not_found; an id of another form is refused before anything goes upstream", async (t) => {
  const { get, ark } = await stack(t);
  const qualifiedId = 'cgt-20260410143205-qual1';
  ark.setTask(TASK_ID, { missing: true });
  ark.setTask(qualifiedId, { missing: true });
  for (const id of [TASK_ID, `ark:${qualifiedId}`]) {
    const missing = await get(`/tasks/${id}`);
    assert.equal(missing.statusCode, 404, id);
    assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'ark']);
  }
  assert.deepEqual([ark.hits(TASK_ID), ark.hits(qualifiedId)], [1, 1]);

  const before = ark.hits();
  const malformed = await get('/tasks/ark:68d9t');
  assert.deepEqual([malformed.statusCode, json(malformed).code], [400, 'invalid_task_id']);
  assert.match(String(json(malformed).detail), /a ark task id is "cgt-" and then letters, digits, "_" or "-"/);
  const unrouted = await get('/tasks/cgt-2025-abc');
  assert.deepEqual([unrouted.statusCode, json(unrouted).code], [404, 'no_provider_for_task_id']);
  assert.equal(ark.hits(), before, 'neither reached Ark');
  // A looser cgt- id, qualified, is asked: Ark's answer (here its 404) decides.
  const loose = await get('/tasks/ark:cgt-2025-abc');
  assert.deepEqual([loose.statusCode, json(loose).code], [404, 'task_not_found']);
  assert.equal(ark.hits('cgt-2025-abc'), 1);
});

test('a key Ark refuses is 502 upstream_auth_failed, not echoed; its 429 is 503 with Retry-After, and the task is still there', async (t) => {
  const wrongKey = 'ark-wrong-key-5e1d0c7a';
  const refused = await stack(t, { ARK_API_KEY: wrongKey });
  const answer = await refused.get(`/tasks/${TASK_ID}`);
  assert.deepEqual([answer.statusCode, json(answer).code, json(answer).provider], [502, 'upstream_auth_failed', 'ark']);
  assert.ok(!answer.body.includes(wrongKey) && !answer.body.includes('AK/SK'));
  assert.ok(refused.lines.every((line) => !line.includes(wrongKey)), 'no log line holds the key');
  assert.equal(refused.ark.hits(TASK_ID), 1);

  const { get, ark } = await stack(t);
  ark.setTask(TASK_ID, { timeline: [{ atMs: 0, status: 'in_progress' }] });
  ark.injectFault(TASK_ID, { kind: 'rate_limit', retryAfter: 7, times: 1 });
  const limited = await get(`/tasks/${TASK_ID}`);
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '7']);
  const after = json<Task>(await get(`/tasks/${TASK_ID}`));
  assert.deepEqual([after.status, after.error], ['in_progress', null]);
  assert.equal(ark.hits(TASK_ID), 2);
});
