/**
 * vidu end to end: `GET /tasks/{id}` (qualified, or a bare numeric id) against the vidu
 * simulator, which refuses anything but `Authorization: Token <key>` (a Bearer key too): a
 * task followed to succeeded (its video and its cover image through `/content`) and to
 * failed, files on the public CDN handed out as they are, a bare id probed among the
 * numeric-id providers and remembered, not-found, rate limits, and the key nowhere but in
 * the upstream request.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_MESSAGES } from '../../src/providers/vidu/map.js';
import { CREATED } from '../../src/providers/vidu/simulator.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import { json, PROVIDER_KEYS, startStack, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KEY = PROVIDER_KEYS.vidu;
/** A task id of Vidu's form, one per test. */
const taskId = (index: number) => `81234567890123${String(index).padStart(4, '0')}`;
const path = (id: string) => `/tasks/${encodeURIComponent(id)}`;
const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

/** The other providers a bare numeric id is asked of (kling and minimax, and any that joins them). */
const NUMERIC_PEERS = PROVIDERS.filter((provider) => provider.name !== 'vidu' && provider.idRules.some((rule) => rule.pattern === '^\\d{10,19}$')).map(
  (provider) => provider.name,
);

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

test('a task followed to succeeded: created and queueing queued, processing, success with its video and its cover through /content', async (t) => {
  const { app, vidu } = await stack(t);
  const id = `vidu:${taskId(1)}`;
  const steps: Array<[Phase, Task['status'], string]> = [
    [{ atMs: 0, status: 'queued', providerStatus: CREATED }, 'queued', 'created'],
    [{ atMs: 0, status: 'queued' }, 'queued', 'queueing'],
    [{ atMs: 0, status: 'in_progress', progress: 40 }, 'in_progress', 'processing'],
    [{ atMs: 0, status: 'succeeded' }, 'succeeded', 'success'],
  ];
  for (const [index, [phase, status, word]] of steps.entries()) {
    vidu.setTask(taskId(1), { variant: 'documented', timeline: [phase] });
    const response = await app.inject({ url: path(id) });
    assert.equal(response.statusCode, 200, response.body);
    const task = json<Task>(response);
    assert.deepEqual([task.provider, task.status, task.provider_status, task.progress], ['vidu', status, word, status === 'succeeded' ? 100 : null]);
    assert.equal(vidu.hits(taskId(1)), index + 1, `${word}: one call per poll`);
    if (status !== 'succeeded') assert.deepEqual([task.poll_after_ms, task.outputs, task.url, task.error], [5000, [], null, null]);
  }
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.equal(vidu.hits(taskId(1)), 4, 'a succeeded task is served from memory');
  assert.deepEqual(task, {
    id,
    provider: 'vidu',
    provider_task_id: taskId(1),
    status: 'succeeded',
    provider_status: 'success',
    progress: 100,
    // The simulator's own /files/ are on the provider's origin: served through the gateway.
    url: gatewayContent(id, 0),
    outputs: [
      { type: 'video', url: gatewayContent(id, 0) },
      { type: 'image', url: gatewayContent(id, 1) },
    ],
    error: null,
    model: null,
    created_at: null,
    completed_at: null,
    poll_after_ms: null,
    content_url: gatewayContent(id),
    expires_at: null,
    archived_at: null,
  });
  const video = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([video.statusCode, video.headers['content-type']], [200, 'video/webm']);
  assert.deepEqual(video.rawPayload, loadAsset('sample.webm').bytes);
  const cover = await app.inject({ url: `${path(id)}/content?output=1` });
  assert.deepEqual([cover.statusCode, cover.headers['content-type']], [200, 'image/jpeg']);
  assert.deepEqual(cover.rawPayload, loadAsset('thumbnail.jpg').bytes);
});

test("a relay's copy: its created_at read, and the watermarked video not a third output", async (t) => {
  const { app, vidu } = await stack(t);
  vidu.setTask(taskId(2), { variant: 'relay', timeline: DONE });
  const task = json<Task>(await app.inject({ url: path(`vidu:${taskId(2)}`) }));
  assert.equal(task.status, 'succeeded');
  assert.match(task.created_at ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.deepEqual(
    task.outputs.map((output) => output.type),
    ['video', 'image'],
  );
});

test('files on the public CDN are handed out as they are, and /content streams them with no credential', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const cdnPort = Number(new URL(cdn.url).port);
  const { app, vidu } = await stack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } }) });
  const id = `vidu:${taskId(3)}`;
  const link = cdn.signedUrl('sample.webm', 60_000);
  vidu.setTask(taskId(3), { variant: 'documented', timeline: DONE, resultUrl: link });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual(
    [task.status, task.url, task.outputs, task.content_url],
    ['succeeded', link, [{ type: 'video', url: link }, { type: 'image', url: gatewayContent(id, 1) }], gatewayContent(id)],
  );
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'video/webm']);
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  assert.equal(cdn.hits('sample.webm'), 1);
  const sent = cdn.requests('sample.webm')[0]!.headerNames;
  assert.ok(!sent.includes('authorization'), `the file host got ${sent.join(', ')}`);
});

test('a task followed to failed: its err_code the code, a sentence for it the message; a stopped task is failed with UserCancelled', async (t) => {
  // Two seconds of story at a hundredth of the speed.
  const { app, vidu } = await stack(t, { timeScale: 0.01 });
  const id = `vidu:${taskId(4)}`;
  vidu.setTask(taskId(4), { timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 2000, status: 'failed' }] });
  const running = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([running.status, running.provider_status], ['in_progress', 'processing']);
  await sleep(40);
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual(
    [task.status, task.provider_status, task.progress, task.url, task.outputs, task.content_url, task.poll_after_ms],
    ['failed', 'failed', null, null, [], null, null],
  );
  assert.equal(task.error?.message, FAILURE_MESSAGES.get(task.error?.code ?? ''), JSON.stringify(task.error));
  assert.equal(vidu.hits(taskId(4)), 2);
  const content = await app.inject({ url: `${path(id)}/content` });
  assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);

  vidu.setTask(taskId(5), { timeline: [{ atMs: 0, status: 'canceled' }] });
  const stopped = json<Task>(await app.inject({ url: path(`vidu:${taskId(5)}`) }));
  assert.deepEqual([stopped.status, stopped.error], ['failed', { code: 'UserCancelled', message: 'The task was stopped by its owner before it finished' }]);
});

test("the documented stories: the example's video and cover on Vidu's storage; the policy failure", async (t) => {
  const { app } = await stack(t, { timeScale: 0.001 });
  const example = 'vidu:812345678901234567';
  const failed = 'vidu:812345678901234568';
  assert.equal(json<Task>(await app.inject({ url: path(example) })).status, 'in_progress');
  assert.equal(json<Task>(await app.inject({ url: path(failed) })).status, 'in_progress');
  await sleep(40);
  const files = 'https://files.vidu.example/infer/tasks/812345678901234567';
  const done = json<Task>(await app.inject({ url: path(example) }));
  assert.deepEqual(
    [done.status, done.url, done.outputs],
    [
      'succeeded',
      `${files}/video.mp4?auth_key=example-signed-link`,
      [
        { type: 'video', url: `${files}/video.mp4?auth_key=example-signed-link` },
        { type: 'image', url: `${files}/cover.jpeg?auth_key=example-signed-link` },
      ],
    ],
  );
  const refused = json<Task>(await app.inject({ url: path(failed) }));
  assert.deepEqual([refused.status, refused.error], ['failed', { code: 'CreationPolicyViolation', message: 'The generated content was flagged by the content policy' }]);
});

test('a bare numeric id: with vidu the only numeric-id provider configured it asks vidu alone', async (t) => {
  const { app, vidu, simulators } = await stack(t, { unconfigured: NUMERIC_PEERS });
  const id = taskId(6);
  vidu.setTask(id, { timeline: DONE });
  const task = json<Task>(await app.inject({ url: path(id) }));
  assert.deepEqual([task.id, task.provider, task.provider_task_id, task.status], [id, 'vidu', id, 'succeeded']);
  assert.equal(vidu.hits(id), 1);
  for (const peer of NUMERIC_PEERS) assert.equal(simulators[peer].hits(), 0, peer);
});

test('a bare numeric id is asked of kling, minimax and vidu at once; the one that has it answers, and is remembered', async (t) => {
  const others = NUMERIC_PEERS.filter((name) => name !== 'kling' && name !== 'minimax');
  const { app, vidu, kling, minimax } = await stack(t, { unconfigured: others });
  const id = taskId(7);
  for (const action of ['text2video', 'image2video']) kling.setTask(`${action}/${id}`, { missing: true });
  minimax.setTask(id, { missing: true });
  vidu.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress' }] });
  for (let poll = 0; poll < 3; poll++) {
    const task = json<Task>(await app.inject({ url: path(id) }));
    assert.deepEqual([task.provider, task.status], ['vidu', 'in_progress']);
  }
  assert.deepEqual([kling.hits(`text2video/${id}`), kling.hits(`image2video/${id}`), minimax.hits(id), vidu.hits(id)], [1, 1, 1, 3], 'only vidu asked after the first time');

  const nowhere = taskId(8);
  for (const action of ['text2video', 'image2video']) kling.setTask(`${action}/${nowhere}`, { missing: true });
  minimax.setTask(nowhere, { missing: true });
  vidu.setTask(nowhere, { missing: true });
  const missing = await app.inject({ url: path(nowhere) });
  assert.deepEqual([missing.statusCode, json(missing).code], [404, 'task_not_found']);
  assert.equal(vidu.hits(nowhere), 1);
});

test("an unknown task is task_not_found; a relay's UUID is asked when qualified; an id of another form is a 400 and asks nothing", async (t) => {
  const { app, vidu } = await stack(t);
  vidu.setTask(taskId(9), { missing: true });
  const missing = await app.inject({ url: path(`vidu:${taskId(9)}`) });
  assert.deepEqual([missing.statusCode, json(missing).code, json(missing).provider], [404, 'task_not_found', 'vidu']);
  assert.doesNotMatch(missing.body, /TaskNotFound/);
  const relayId = '6928de47-2e53-4ee6-901b-be05a8bf7669';
  vidu.setTask(relayId, { timeline: DONE });
  const relay = json<Task>(await app.inject({ url: path(`vidu:${relayId}`) }));
  assert.deepEqual([relay.provider, relay.provider_task_id, relay.status], ['vidu', relayId, 'succeeded']);
  for (const malformed of ['vidu:task_abc001', 'vidu:123456789', 'vidu:12345678901234567890', `vidu:${relayId.replaceAll('-', '')}`]) {
    const answer = await app.inject({ url: path(malformed) });
    assert.deepEqual([answer.statusCode, json(answer).code], [400, 'invalid_task_id'], malformed);
  }
  assert.equal(vidu.hits(), 2);
});

test('the simulator refuses a Bearer key, as Vidu does; the gateway sends Token', async (t) => {
  const { app, vidu } = await stack(t);
  vidu.setTask(taskId(10), { timeline: DONE });
  const bearer = await request(`${vidu.url}/ent/v2/tasks/${taskId(10)}/creations`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(bearer.statusCode, 401);
  assert.deepEqual(await bearer.body.json(), { code: 401, reason: 'Unauthorized', message: 'unauthorized', metadata: {} });
  const through = await app.inject({ url: path(`vidu:${taskId(10)}`) });
  assert.deepEqual([through.statusCode, json<Task>(through).status], [200, 'succeeded']);
  assert.equal(vidu.hits(taskId(10)), 2);
});

test('429 is upstream_rate_limited with its Retry-After; a wrong key is upstream_auth_failed', async (t) => {
  const { app, vidu } = await stack(t);
  const id = `vidu:${taskId(11)}`;
  vidu.setTask(taskId(11), { timeline: DONE });
  vidu.injectFault(taskId(11), { kind: 'rate_limit', retryAfter: 7, times: 1 });
  const limited = await app.inject({ url: path(id) });
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '7']);
  vidu.injectFault(taskId(11), { kind: 'rate_limit', times: 1 });
  const unnamed = await app.inject({ url: path(id) });
  assert.deepEqual([unnamed.statusCode, unnamed.headers['retry-after']], [503, '5']);
  assert.equal(json<Task>(await app.inject({ url: path(id) })).status, 'succeeded');

  const wrong = await stack(t, { env: { VIDU_API_KEY: 'vda_not-the-key' } });
  const refused = await wrong.app.inject({ url: path(id) });
  assert.equal(refused.statusCode, 502);
  assert.deepEqual([json(refused).code, json(refused).provider], ['upstream_auth_failed', 'vidu']);
  assert.doesNotMatch(refused.body, /Unauthorized|vda_not-the-key/);
});

test('the key reaches Vidu as Authorization: Token and nowhere else: not in answers, not in trace logs', async (t) => {
  const vidu = await startSimulator({ provider: 'vidu', credentials: { apiKey: KEY } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = await buildApp(loadConfig({ ...vidu.env, LOG_LEVEL: 'trace', TASKGATE_PUBLIC_URL: PUBLIC_URL }), { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await vidu.close();
  });
  const bodies: string[] = [];
  for (const [index, script] of [
    { variant: 'documented', timeline: DONE },
    { variant: 'relay', timeline: DONE },
    { timeline: [{ atMs: 0, status: 'failed' as const }] },
    { timeline: [{ atMs: 0, status: 'queued' as const, providerStatus: CREATED }] },
  ].entries()) {
    vidu.setTask(taskId(20 + index), script);
    const response = await app.inject({ url: path(taskId(20 + index)) });
    assert.equal(response.statusCode, 200);
    assert.equal(json<Task>(response).provider, 'vidu');
    bodies.push(response.body, JSON.stringify(response.headers));
  }
  vidu.setTask(taskId(30), { missing: true });
  bodies.push((await app.inject({ url: path(taskId(30)) })).body);
  for (const url of [`${path(taskId(20))}/content`, `${path(taskId(20))}/content?output=1`, `${path(taskId(21))}/content?output=1`]) {
    const content = await app.inject({ url });
    assert.equal(content.statusCode, 200, url);
    bodies.push(content.body.slice(0, 2000), JSON.stringify(content.headers));
  }
  assert.ok(vidu.receivedHeaderNames().has('authorization'));
  assert.ok(lines.length > 0, 'trace logs were written');
  for (const text of [...bodies, ...lines]) assert.ok(!text.includes(KEY), `the key leaked: ${text.slice(0, 300)}`);
});
