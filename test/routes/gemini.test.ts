/**
 * gemini end to end: `GET /tasks/{operation name, percent-encoded}` against the gemini
 * simulator, from running to done; its videos through `/content` with the key on the
 * provider's origin and without it after a redirect to the public file origin; failures,
 * the safety filter, not-found, and no key in any answer or log line.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FILTERED_MESSAGE } from '../../src/providers/gemini/map.js';
import { redirectsDownload } from '../../src/providers/gemini/simulator.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator, type Phase } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KEY = PROVIDER_KEYS.gemini;
const VIDEO = loadAsset('sample.webm');
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

/** Operation names whose download the simulator serves itself (false) or redirects (true). */
function operationWhoseDownload(redirects: boolean, tag: string): string {
  for (let index = 0; ; index++) {
    const name = `models/veo-3.1-generate-preview/operations/${tag}${index}`;
    if (redirectsDownload(name) === redirects) return name;
  }
}

const tasks = (id: string) => `/tasks/${encodeURIComponent(id)}`;
const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}${tasks(id)}/content${output === undefined ? '' : `?output=${output}`}`;

function stack(t: TestContext, options: StackOptions = {}) {
  return startStack(t, {
    ...options,
    env: { TASKGATE_PUBLIC_URL: PUBLIC_URL, ...options.env },
    // Every poll asks upstream: the tests move a task along by pinning its next phase.
    configure: (config) => {
      const fresh = { ...config, cache: { ...config.cache, freshMs: 0 } };
      return options.configure === undefined ? fresh : options.configure(fresh);
    },
  });
}

test('a task followed from running to done by its encoded operation name: Task.id decoded, the video behind the gateway', async (t) => {
  const { app, gemini } = await stack(t);
  const id = operationWhoseDownload(false, 'followed');
  gemini.setTask(id, { variant: 'relay', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
  const running = await app.inject({ url: tasks(id) });
  assert.equal(running.statusCode, 200);
  assert.deepEqual(json<Task>(running), {
    id,
    provider: 'gemini',
    provider_task_id: id,
    status: 'in_progress',
    provider_status: 'running',
    progress: 30,
    url: null,
    outputs: [],
    error: null,
    model: 'veo-3.1-generate-preview',
    created_at: null,
    completed_at: null,
    poll_after_ms: 10_000,
    content_url: null,
    expires_at: null,
    archived_at: null,
  });

  gemini.setTask(id, { variant: 'google', timeline: DONE });
  const done = await app.inject({ url: tasks(id) });
  const task = json<Task>(done);
  assert.deepEqual(
    [task.id, task.status, task.provider_status, task.progress, task.error, task.poll_after_ms],
    [id, 'succeeded', 'done', 100, null, null],
  );
  assert.deepEqual(task.outputs, [{ type: 'video', url: gatewayContent(id, 0) }]);
  assert.deepEqual([task.url, task.content_url], [gatewayContent(id, 0), gatewayContent(id)]);
  assert.ok(!done.body.includes(gemini.url), 'no provider URL reaches the client');
  assert.equal(gemini.hits(id), 2);
  assert.ok(gemini.receivedHeaderNames().has('x-goog-api-key'));
  assert.ok(!gemini.receivedHeaderNames().has('authorization'), 'the key never goes as Authorization');

  // The qualified form reaches the same task.
  const qualified = json<Task>(await app.inject({ url: tasks(`gemini:${id}`) }));
  assert.deepEqual([qualified.id, qualified.provider_task_id, qualified.status], [`gemini:${id}`, id, 'succeeded']);
});

test("/content of a video the provider serves itself: fetched from the provider's origin with the key", async (t) => {
  const { app, gemini } = await stack(t);
  const id = operationWhoseDownload(false, 'direct');
  gemini.setTask(id, { variant: 'google', timeline: DONE });
  const content = await app.inject({ url: `${tasks(id)}/content` });
  // The simulator refuses a download without x-goog-api-key: the bytes prove the key went along.
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.deepEqual(content.rawPayload, VIDEO.bytes);
  const range = await app.inject({ url: `${tasks(id)}/content`, headers: { range: 'bytes=0-1023' } });
  assert.equal(range.statusCode, 206);
  assert.deepEqual(range.rawPayload, VIDEO.bytes?.subarray(0, 1024));
  assert.equal(gemini.hits(id), 1, 'one status call; the downloads served there are no status calls');
});

test('/content of a video the provider redirects to the public file origin: the key goes to the provider, never to that origin', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  // The public origin as the gateway meets it, recording what each request carried, in front of the CDN.
  const received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const front = createServer((incoming, outgoing) => {
    received.push({ url: incoming.url ?? '', headers: incoming.headers });
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
  const frontPort = (front.address() as AddressInfo).port;
  const publicFile = cdn.signedUrl('sample.webm', 60_000).replace(cdn.url, `http://127.0.0.1:${frontPort}`);

  const { app, gemini } = await stack(t, {
    configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: frontPort }] } }),
  });
  const id = operationWhoseDownload(true, 'redirected');
  gemini.setTask(id, { variant: 'relay', timeline: DONE, resultUrl: publicFile });
  const task = json<Task>(await app.inject({ url: tasks(id) }));
  assert.equal(task.url, gatewayContent(id, 0), 'the provider-origin URI is private: the client gets the gateway URL');

  const content = await app.inject({ url: `${tasks(id)}/content` });
  assert.equal(content.statusCode, 200);
  assert.deepEqual(content.rawPayload, VIDEO.bytes);
  assert.equal(cdn.hits('sample.webm'), 1, 'the bytes came from the public origin');
  assert.equal(received.length, 1);
  const [cdnRequest] = received;
  assert.equal(cdnRequest?.headers['x-goog-api-key'], undefined, 'no key on the other origin');
  assert.equal(cdnRequest?.headers.authorization, undefined);
  assert.ok(!cdnRequest?.url.includes(KEY) && !/[?&]key=/.test(cdnRequest?.url ?? ''), cdnRequest?.url);
  // The download on the provider's origin, answered 302 from the task's state: a call of its own, with the key.
  assert.equal(gemini.hits(id), 2);
});

test('done with an error: failed with its code as text and message, and no content', async (t) => {
  const { app, gemini } = await stack(t);
  const id = 'models/veo-3.0-generate-001/operations/failedratio1';
  gemini.setTask(id, { variant: 'google', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'INVALID_ARGUMENT' }] });
  const task = json<Task>(await app.inject({ url: tasks(id) }));
  assert.deepEqual(
    [task.status, task.provider_status, task.error, task.url, task.outputs, task.content_url, task.model],
    ['failed', 'done', { code: '3', message: 'Unsupported aspect ratio' }, null, [], null, 'veo-3.0-generate-001'],
  );
  const content = await app.inject({ url: `${tasks(id)}/content` });
  assert.equal(content.statusCode, 409);
  assert.equal(json(content).code, 'task_not_ready');
});

test('done with no video (the safety filter): failed, content_filtered with its reason, wherever the reasons sit', async (t) => {
  const { app, gemini } = await stack(t);
  for (const variant of ['google', 'relay']) {
    const id = `models/veo-3.1-generate-preview/operations/blocked${variant}`;
    gemini.setTask(id, { variant, timeline: [{ atMs: 0, status: 'failed', providerStatus: 'filtered' }] });
    const task = json<Task>(await app.inject({ url: tasks(id) }));
    assert.deepEqual([task.status, task.provider_status, task.error?.code, task.url], ['failed', 'done', 'content_filtered', null], variant);
    assert.match(task.error?.message ?? '', /You have not been charged for this attempt\.$/, variant);
  }
  const silent = 'models/veo-3.1-generate-preview/operations/silent1';
  gemini.setTask(silent, { raw: { status: 200, body: { name: silent, done: true, response: { generateVideoResponse: {} } } } });
  const task = json<Task>(await app.inject({ url: tasks(silent) }));
  assert.deepEqual([task.status, task.error], ['failed', { code: 'content_filtered', message: FILTERED_MESSAGE }]);
});

test("gemini's 404 is task_not_found; a name it cannot have is a 400 and nothing goes upstream", async (t) => {
  const { app, gemini } = await stack(t);
  const gone = 'models/veo-3.1-generate-preview/operations/gone1';
  gemini.setTask(gone, { missing: true });
  const missing = await app.inject({ url: tasks(gone) });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'gemini']);
  assert.equal(gemini.hits(gone), 1);

  const before = gemini.hits();
  const malformed = await app.inject({ url: tasks('models/veo@3/operations/x') });
  assert.equal(malformed.statusCode, 400);
  assert.equal(json(malformed).code, 'invalid_task_id');
  assert.match(String(json(malformed).detail), /a gemini task id is an operation name, models\/\{model\}\/operations\/\{operation\}/);
  const unencoded = await app.inject({ url: '/tasks/models/veo-3.1-generate-preview/operations/x' });
  assert.equal(unencoded.statusCode, 404, 'an unencoded name is another path, not a task');
  assert.equal(gemini.hits(), before);
});

test("a key Google does not accept is upstream_auth_failed; its 429 upstream_rate_limited with Retry-After", async (t) => {
  const { app, gemini } = await stack(t, { env: { GEMINI_API_KEY: 'AIzaSy-not-the-one' } });
  const id = 'models/veo-3.1-generate-preview/operations/anykey1';
  const refused = await app.inject({ url: tasks(id) });
  assert.equal(refused.statusCode, 502);
  assert.deepEqual([json(refused).code, json(refused).provider], ['upstream_auth_failed', 'gemini']);
  assert.ok(!refused.body.includes('AIzaSy-not-the-one') && !refused.body.includes('API key not valid'));
  assert.equal(gemini.hits(id), 1);

  const { app: keyed, gemini: limited } = await stack(t);
  limited.injectFault(id, { kind: 'rate_limit', retryAfter: 7 });
  const answer = await keyed.inject({ url: tasks(id) });
  assert.equal(answer.statusCode, 503);
  assert.deepEqual([json(answer).code, answer.headers['retry-after']], ['upstream_rate_limited', '7']);
});

test('no answer, header or log line carries the key, whatever happens', async (t) => {
  const simulator = await startSimulator({ provider: 'gemini', credentials: { apiKey: KEY } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ GEMINI_API_KEY: KEY, GEMINI_BASE_URL: simulator.url, LOG_LEVEL: 'trace', CIRCUIT_FAILURE_THRESHOLD: '0' });
  const app = await buildApp({ ...config, cache: { ...config.cache, freshMs: 0 } }, { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await simulator.close();
  });
  const direct = operationWhoseDownload(false, 'logged');
  simulator.setTask(direct, { timeline: DONE });
  simulator.setTask('models/veo-3.1-generate-preview/operations/loggedfail1', { variant: 'google', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'filtered' }] });
  simulator.injectFault('models/veo-3.1-generate-preview/operations/loggedfault1', { kind: 'status', status: 500 });
  simulator.injectFault('models/veo-3.1-generate-preview/operations/loggedlimit1', { kind: 'rate_limit' });
  const answers = [];
  for (const url of [
    tasks(direct),
    `${tasks(direct)}/content`,
    tasks('models/veo-3.1-generate-preview/operations/loggedfail1'),
    tasks('models/veo-3.1-generate-preview/operations/loggedfault1'),
    tasks('models/veo-3.1-generate-preview/operations/loggedlimit1'),
    tasks('models/veo-3.1-generate-preview/operations/missing1'),
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
