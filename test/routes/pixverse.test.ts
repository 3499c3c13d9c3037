/**
 * pixverse end to end: `GET /tasks/{id}` against the pixverse simulator, which refuses any
 * `Ai-trace-id` it has seen: the gateway's calls all carry new ones (recorded on the way by
 * a loopback relay, and replayed to show the simulator would refuse them); videos followed
 * to 1 and to 7 and 8; a result on the public CDN handed out as is; a bare numeric id
 * routed among the numeric-id providers; ErrCode answers inside HTTP 200 (rate limit,
 * unknown video, a reused trace id) never a failed task; the key only in `API-KEY`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { PROVIDER_NAMES } from '../../src/providers/index.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KEY = PROVIDER_KEYS.pixverse;
/** A video id of PixVerse's form, one per test (15 digits: the simulator's own). */
const videoId = (index: number) => `3154000000${index.toString().padStart(5, '0')}`;
const path = (id: string) => `/tasks/${id}`;
const gatewayContent = (id: string) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content`;
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const RUNNING: Phase[] = [{ atMs: 0, status: 'in_progress' }];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The other providers of numeric ids in the registry (vidu once it is there). */
const OTHER_NUMERIC = PROVIDER_NAMES.filter((name) => ['kling', 'minimax', 'vidu'].includes(name));

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

/**
 * A loopback relay in front of `target` that records the headers of every request it
 * forwards: what the gateway sent PixVerse, values included.
 */
async function recordingRelay(t: TestContext, target: string) {
  const received: IncomingHttpHeaders[] = [];
  const server = createServer((incoming, outgoing) => {
    received.push(incoming.headers);
    const { host: _host, connection: _connection, ...headers } = incoming.headers;
    request(`${target}${incoming.url ?? '/'}`, { method: 'GET', headers: headers as Record<string, string> }).then(
      async (answer) => {
        outgoing.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        outgoing.end(Buffer.from(await answer.body.arrayBuffer()));
      },
      () => outgoing.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

test('a video followed to 1: status 5 in progress, then its video through /content; every call a new trace id', async (t) => {
  const { app, pixverse } = await stack(t);
  const id = videoId(1);
  const qualified = `pixverse:${id}`;
  pixverse.setTask(id, { variant: 'documented', timeline: RUNNING });
  for (let poll = 1; poll <= 3; poll++) {
    const response = await app.inject({ url: path(qualified) });
    assert.equal(response.statusCode, 200, response.body);
    const task = json<Task>(response);
    assert.deepEqual(
      [task.provider, task.provider_task_id, task.status, task.provider_status, task.progress, task.url, task.outputs, task.error, task.poll_after_ms],
      ['pixverse', id, 'in_progress', '5', null, null, [], null, 4000],
    );
    assert.equal(pixverse.hits(id), poll, 'one call per poll, none refused');
  }
  pixverse.setTask(id, { variant: 'brief', timeline: DONE });
  const task = json<Task>(await app.inject({ url: path(qualified) }));
  assert.deepEqual(task, {
    id: qualified,
    provider: 'pixverse',
    provider_task_id: id,
    status: 'succeeded',
    provider_status: '1',
    progress: 100,
    // The simulator's own /files/ is on the provider's origin: served through the gateway.
    url: `${gatewayContent(qualified)}?output=0`,
    outputs: [{ type: 'video', url: `${gatewayContent(qualified)}?output=0` }],
    error: null,
    model: null,
    created_at: null,
    completed_at: null,
    poll_after_ms: null,
    content_url: gatewayContent(qualified),
    expires_at: null,
    archived_at: null,
  });
  const content = await app.inject({ url: `${path(qualified)}/content` });
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'video/webm']);
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  assert.equal(pixverse.hits(id), 4, '/content of a finished video asks nothing more of the status call');
  const sent = pixverse.receivedHeaderNames();
  assert.ok(sent.has('api-key') && sent.has('ai-trace-id') && !sent.has('authorization'), [...sent].join(', '));
});

test("the gateway's trace ids are UUIDs never sent twice; the simulator refuses any of them replayed", async (t) => {
  const pixverse = await startSimulator({ provider: 'pixverse', credentials: { apiKey: KEY } });
  t.after(() => pixverse.close());
  const relay = await recordingRelay(t, pixverse.url);
  const config = loadConfig({ PIXVERSE_API_KEY: KEY, PIXVERSE_BASE_URL: relay.url, TASKGATE_PUBLIC_URL: PUBLIC_URL });
  const app = await buildApp({ ...config, cache: { ...config.cache, freshMs: 0 } }, { logger: false });
  t.after(() => app.close());
  const ids = [videoId(2), videoId(3), videoId(4)];
  for (const id of ids) pixverse.setTask(id, { variant: 'brief', timeline: RUNNING });
  // Polls one after the other, and polls at once, and batches of them.
  for (let round = 0; round < 4; round++) {
    for (const id of ids) assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'in_progress');
  }
  const together = await Promise.all(Array.from({ length: 6 }, (_, index) => app.inject({ url: path(`pixverse:${ids[index % 3]}`) })));
  for (const response of together) assert.deepEqual([response.statusCode, json<Task>(response).provider_status], [200, '5'], response.body);
  const traceIds = relay.received.map((headers) => String(headers['ai-trace-id']));
  assert.ok(traceIds.length >= 12 + 3, `${traceIds.length} calls`);
  assert.equal(pixverse.hits(), relay.received.length, 'every call reached the simulator');
  for (const traceId of traceIds) assert.match(traceId, UUID_V4);
  assert.equal(new Set(traceIds).size, traceIds.length, 'no trace id twice');
  assert.ok(relay.received.every((headers) => headers['api-key'] === KEY && headers['authorization'] === undefined));
  // Sent again, a trace id the gateway used is refused: the checks above had teeth.
  const replay = await request(`${pixverse.url}/openapi/v2/video/result/${ids[0]}`, { headers: { 'api-key': KEY, 'ai-trace-id': traceIds[0]! } });
  assert.deepEqual([replay.statusCode, ((await replay.body.json()) as { ErrCode: number }).ErrCode], [200, 400099]);
});

test('an answer to a reused trace id is an API error: 502 upstream_error, never a failed task', async (t) => {
  const { app, pixverse } = await stack(t);
  const id = videoId(5);
  pixverse.setTask(id, { raw: { status: 200, body: { ErrCode: 400099, ErrMsg: 'Ai-trace-id has already been used: send a new one with every request', Resp: null } } });
  const refused = await app.inject({ url: path(`pixverse:${id}`) });
  assert.deepEqual([refused.statusCode, json(refused).code, json(refused).provider, json(refused).detail], [502, 'upstream_error', 'pixverse', 'pixverse answered with an API error (ErrCode 400099)']);
  assert.doesNotMatch(refused.body, /already been used/);
});

test('videos followed to 7 and 8: failed with content_moderation and generation_failed; /content is 409', async (t) => {
  // Two seconds of story at a hundredth of the speed.
  const { app, pixverse } = await stack(t, { timeScale: 0.01 });
  const expected = new Map([
    ['7', { code: 'content_moderation', message: "The video did not pass PixVerse's content moderation" }],
    ['8', { code: 'generation_failed', message: 'PixVerse failed to generate the video' }],
  ]);
  for (const [index, word] of ['7', '8'].entries()) {
    const id = `pixverse:${videoId(10 + index)}`;
    pixverse.setTask(videoId(10 + index), { variant: 'documented', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 2000, status: 'failed', providerStatus: word }] });
    assert.equal(json<Task>(await app.inject({ url: path(id) })).provider_status, '5');
    await sleep(40);
    const task = json<Task>(await app.inject({ url: path(id) }));
    assert.deepEqual([task.status, task.provider_status, task.error, task.url, task.outputs, task.poll_after_ms], ['failed', word, expected.get(word), null, [], null]);
    const content = await app.inject({ url: `${path(id)}/content` });
    assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);
  }
});

test('the documented example through a bare id: asked of pixverse alone when the other numeric-id providers have no key', async (t) => {
  const { app, pixverse, ...others } = await stack(t, { unconfigured: OTHER_NUMERIC, timeScale: 0.001 });
  const example = '315468294118400';
  const first = json<Task>(await app.inject({ url: path(example) }));
  assert.deepEqual([first.id, first.provider, first.status, first.provider_status], [example, 'pixverse', 'in_progress', '5']);
  await sleep(20);
  const done = json<Task>(await app.inject({ url: path(example) }));
  const link = `https://media.pixverse.ai/openapi/output/${example}/video.mp4`;
  assert.deepEqual([done.status, done.url, done.outputs], ['succeeded', link, [{ type: 'video', url: link }]]);
  for (const name of OTHER_NUMERIC) assert.equal(others.simulators[name].hits(), 0, `${name} was not asked`);
});

test('a bare id minimax does not have goes to pixverse, and is remembered; one neither has is 404', async (t) => {
  const { app, pixverse, minimax } = await stack(t, { unconfigured: OTHER_NUMERIC.filter((name) => name !== 'minimax') });
  const id = videoId(20);
  minimax.setTask(id, { missing: true });
  pixverse.setTask(id, { variant: 'brief', timeline: RUNNING });
  for (let poll = 0; poll < 3; poll++) assert.equal(json<Task>(await app.inject({ url: path(id) })).provider, 'pixverse');
  assert.deepEqual([minimax.hits(id), pixverse.hits(id)], [1, 3], 'minimax was only asked the first time');
  const nowhere = videoId(21);
  for (const simulator of [minimax, pixverse]) simulator.setTask(nowhere, { missing: true });
  const missing = await app.inject({ url: path(nowhere) });
  assert.deepEqual([missing.statusCode, json(missing).code], [404, 'task_not_found']);
  assert.deepEqual([minimax.hits(nowhere), pixverse.hits(nowhere)], [1, 1]);
});

test('an unknown video (ErrCode 500008 in an HTTP 200) is task_not_found; an id of another form is a 400 and asks nothing', async (t) => {
  const { app, pixverse } = await stack(t);
  const id = videoId(30);
  pixverse.setTask(id, { missing: true });
  const missing = await app.inject({ url: path(`pixverse:${id}`) });
  assert.deepEqual([missing.statusCode, json(missing).code, json(missing).provider], [404, 'task_not_found', 'pixverse']);
  for (const malformed of ['pixverse:abc', `pixverse:${id}x`, 'pixverse:12345']) {
    const answer = await app.inject({ url: path(malformed) });
    assert.deepEqual([answer.statusCode, json(answer).code], [400, 'invalid_task_id'], malformed);
  }
  assert.equal(pixverse.hits(), 1);
});

test('a rate limit in an HTTP 200 (ErrCode 500044) is 503 upstream_rate_limited, then the video; a wrong key is upstream_auth_failed', async (t) => {
  const { app, pixverse } = await stack(t);
  const id = `pixverse:${videoId(40)}`;
  pixverse.setTask(videoId(40), { variant: 'brief', timeline: DONE });
  pixverse.injectFault(videoId(40), { kind: 'rate_limit', times: 1 });
  const limited = await app.inject({ url: path(id) });
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '5']);
  pixverse.injectFault(videoId(40), { kind: 'rate_limit', retryAfter: 9, times: 1 });
  assert.equal((await app.inject({ url: path(id) })).headers['retry-after'], '9');
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'succeeded');

  const wrong = await stack(t, { env: { PIXVERSE_API_KEY: 'pv-not-the-key' } });
  const refused = await wrong.app.inject({ url: path(id) });
  assert.deepEqual([refused.statusCode, json(refused).code, json(refused).provider], [502, 'upstream_auth_failed', 'pixverse']);
  assert.doesNotMatch(refused.body, /Invalid API-KEY/);
});

test('a call retried after a 5xx carries a new trace id, so PixVerse answers it', async (t) => {
  const { app, pixverse } = await stack(t);
  const id = videoId(41);
  pixverse.setTask(id, { variant: 'brief', timeline: DONE });
  pixverse.injectFault(id, { kind: 'status', status: 503, times: 1 });
  const answer = await app.inject({ url: path(`pixverse:${id}`) });
  assert.equal(answer.statusCode, 200, answer.body);
  assert.equal(json<Task>(answer).status, 'succeeded');
  assert.equal(pixverse.hits(id), 2, 'the 503, then the retry, which the simulator did not refuse as a replay');
});

test('files on the public CDN are handed out as they are; /content streams them without the key or a trace id', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const cdnPort = Number(new URL(cdn.url).port);
  const { app, pixverse } = await stack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } }) });
  const id = videoId(50);
  const link = cdn.signedUrl('sample.webm', 60_000);
  pixverse.setTask(id, { variant: 'documented', timeline: DONE, resultUrl: link });
  const task = json<Task>(await app.inject({ url: path(`pixverse:${id}`) }));
  assert.deepEqual([task.status, task.url, task.outputs, task.content_url], ['succeeded', link, [{ type: 'video', url: link }], gatewayContent(`pixverse:${id}`)]);
  const content = await app.inject({ url: `${path(`pixverse:${id}`)}/content` });
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'video/webm']);
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  const sent = cdn.requests('sample.webm')[0]!.headerNames;
  assert.ok(!sent.includes('api-key') && !sent.includes('ai-trace-id') && !sent.includes('authorization'), `the file host got ${sent.join(', ')}`);
});

test('the key reaches PixVerse as API-KEY and nowhere else: not in answers, not in trace logs', async (t) => {
  const pixverse = await startSimulator({ provider: 'pixverse', credentials: { apiKey: KEY } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = await buildApp(loadConfig({ ...pixverse.env, LOG_LEVEL: 'trace', TASKGATE_PUBLIC_URL: PUBLIC_URL }), { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await pixverse.close();
  });
  const bodies: string[] = [];
  const scripts = [
    { variant: 'documented', timeline: DONE },
    { variant: 'brief', timeline: RUNNING },
    { timeline: [{ atMs: 0, status: 'failed' as const }] },
    { missing: true },
  ];
  for (const [index, script] of scripts.entries()) {
    pixverse.setTask(videoId(60 + index), script);
    const response = await app.inject({ url: path(`pixverse:${videoId(60 + index)}`) });
    bodies.push(response.body, JSON.stringify(response.headers));
  }
  const content = await app.inject({ url: `${path(`pixverse:${videoId(60)}`)}/content` });
  assert.equal(content.statusCode, 200);
  bodies.push(JSON.stringify(content.headers));
  assert.ok(lines.length > 0, 'trace logs were written');
  for (const text of [...bodies, ...lines]) assert.ok(!text.includes(KEY), `the key leaked: ${text.slice(0, 300)}`);
  // A trace id is no secret, but it is no key either: a fresh one the simulator never saw is accepted.
  const direct = await request(`${pixverse.url}/openapi/v2/video/result/${videoId(61)}`, { headers: { 'api-key': KEY, 'ai-trace-id': randomUUID() } });
  assert.equal(((await direct.body.json()) as { ErrCode: number }).ErrCode, 0);
});
