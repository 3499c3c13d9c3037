/**
 * luma end to end: `GET /tasks/{uuid}` against the luma simulator: a generation followed
 * to completed (its CDN video handed out as Luma wrote it and streamed through `/content`
 * without the key), an image generation served through `/content`, failures in Dream
 * Machine's and the Agents API's shapes, a bare UUID routed by the UUID rule and probed
 * when another provider may hold it, not-found, refused keys and rate limits, and the key
 * in no answer or log line.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { PROVIDERS, type ProviderName } from '../../src/providers/index.js';
import { AGENTS_FAILURES, FAILURE_REASONS, ownsGeneration } from '../../src/providers/luma/simulator.js';
import type { RoutingRule } from '../../src/routing.js';
import { loggerOptions } from '../../src/server.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import type { Phase } from '../../src/simulators/script.js';
import { json, PROVIDER_KEYS, startSimulators } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const KEY = PROVIDER_KEYS.luma;
const UUID_RULE = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
/** The other providers whose default rule is the UUID's (runway, dashscope once they are in the registry). */
const OTHER_UUID_PROVIDERS = PROVIDERS.filter((provider) => provider.name !== 'luma' && provider.idRules.some((rule) => rule.pattern === UUID_RULE)).map(
  (provider): ProviderName => provider.name,
);

const uuid = (index: number) => `${index.toString(16).padStart(8, '0')}-7b7a-4111-a43b-445b3a89c8ef`;
const CANDIDATES = Array.from({ length: 64 }, (_, index) => uuid(index));
/** UUIDs the luma simulator holds without being told, and UUIDs it does not. */
const HELD = CANDIDATES.filter(ownsGeneration);
const NOT_HELD = CANDIDATES.filter((id) => !ownsGeneration(id));
const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;

interface StackOptions {
  env?: Record<string, string>;
  /** Rules put in front of the default table. */
  routes?: RoutingRule[];
  unconfigured?: ProviderName[];
}

/** Every simulator, a public CDN, and the gateway logging at trace level; every poll goes upstream (no reuse window). */
async function stack(t: TestContext, options: StackOptions = {}) {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const { simulators, env } = await startSimulators(t, { unconfigured: options.unconfigured ?? OTHER_UUID_PROVIDERS });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ ...env, TASKGATE_PUBLIC_URL: PUBLIC_URL, LOG_LEVEL: 'trace', ...options.env });
  const allowHosts = [{ host: '127.0.0.1', port: Number(new URL(cdn.url).port) }];
  const app = await buildApp(
    { ...config, routes: [...(options.routes ?? []), ...config.routes], cache: { ...config.cache, freshMs: 0 }, content: { ...config.content, allowHosts } },
    { logger: { ...loggerOptions('trace'), stream } },
  );
  t.after(() => app.close());
  const get = async (url: string) => {
    const response = await app.inject({ url });
    assert.ok(!JSON.stringify(response.headers).includes(KEY), `${url} answered the key in a header`);
    if (!/^(video|image)\//.test(String(response.headers['content-type']))) assert.ok(!response.body.includes(KEY), `${url} answered the key`);
    return response;
  };
  const noKeyLogged = () => assert.ok(lines.length > 0 && lines.every((line) => !line.includes(KEY)), 'no log line holds the key');
  return { get, luma: simulators.luma, vtrix: simulators.vtrix, cdn, lines, noKeyLogged };
}

test('a generation followed to completed: its CDN video handed out as Luma wrote it, streamed through /content without the key', async (t) => {
  const { get, luma, cdn, noKeyLogged } = await stack(t);
  const id = HELD[0]!;
  const link = cdn.signedUrl('sample.webm', 3_600_000);
  const steps: Array<[Phase, string]> = [
    [{ atMs: 0, status: 'queued' }, 'queued'],
    // With progress, the simulator adds a preview video: no output for it.
    [{ atMs: 0, status: 'in_progress', progress: 40 }, 'dreaming'],
  ];
  for (const [index, [phase, word]] of steps.entries()) {
    luma.setTask(id, { variant: 'video', model: 'ray-2', timeline: [phase], resultUrl: link });
    const response = await get(`/tasks/${id}`);
    assert.equal(response.statusCode, 200);
    const task = json<Task>(response);
    assert.deepEqual(
      [task.provider, task.status, task.provider_status, task.progress, task.outputs, task.url, task.content_url, task.poll_after_ms, task.completed_at],
      ['luma', phase.status, word, null, [], null, null, 3000, null],
    );
    assert.match(task.created_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(luma.hits(id), index + 1, 'one call per poll');
  }

  luma.setTask(id, { variant: 'video', model: 'ray-2', timeline: DONE, resultUrl: link });
  const done = json<Task>(await get(`/tasks/${id}`));
  assert.deepEqual({ ...done, created_at: null }, {
    id,
    provider: 'luma',
    provider_task_id: id,
    status: 'succeeded',
    provider_status: 'completed',
    progress: 100,
    url: link,
    outputs: [{ type: 'video', url: link }],
    error: null,
    model: 'ray-2',
    created_at: null,
    completed_at: null,
    poll_after_ms: null,
    content_url: gatewayContent(id),
    expires_at: null,
    archived_at: null,
  });
  assert.equal(luma.hits(id), 3);
  assert.ok(luma.receivedHeaderNames().has('authorization'), 'the key went to Luma');

  const content = await get(`/tasks/${id}/content`);
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.deepEqual(content.rawPayload, loadAsset('sample.webm').bytes);
  assert.deepEqual(cdn.requests().map((record) => [record.name, record.status]), [['sample.webm', 200]]);
  assert.ok(!cdn.requests()[0]!.headerNames.includes('authorization'), 'no key on the file origin');
  assert.equal(luma.hits(id), 3, 'a completed generation is served from memory');
  noKeyLogged();
});

test('an image generation: its picture on the simulator\'s own origin, served through /content with the key', async (t) => {
  const { get, luma, cdn } = await stack(t);
  const id = HELD[1]!;
  luma.setTask(id, { variant: 'image', model: 'photon-1', timeline: DONE });
  const task = json<Task>(await get(`/tasks/${id}`));
  assert.deepEqual(
    [task.status, task.provider_status, task.outputs, task.url, task.model],
    ['succeeded', 'completed', [{ type: 'image', url: gatewayContent(id, 0) }], gatewayContent(id, 0), 'photon-1'],
  );
  const image = await get(`/tasks/${id}/content`);
  assert.deepEqual([image.statusCode, image.headers['content-type']], [200, 'image/jpeg']);
  assert.deepEqual(image.rawPayload, loadAsset('thumbnail.jpg').bytes);
  assert.equal(cdn.hits(), 0);
});

test("failed in Dream Machine's words (a documented reason) and in the Agents API's (its failure_code); a canceled story reads as failed", async (t) => {
  const { get, luma } = await stack(t);
  const [dreamMachine, agents, canceled] = HELD.slice(2, 5) as [string, string, string];
  luma.setTask(dreamMachine, { variant: 'video', timeline: [{ atMs: 0, status: 'failed' }] });
  luma.setTask(agents, { variant: 'agents', timeline: [{ atMs: 0, status: 'failed' }] });
  luma.setTask(canceled, { variant: 'image', timeline: [{ atMs: 0, status: 'canceled' }] });

  const failed = json<Task>(await get(`/tasks/${dreamMachine}`));
  assert.deepEqual([failed.status, failed.provider_status, failed.error?.code, failed.url, failed.outputs, failed.poll_after_ms], ['failed', 'failed', 'task_failed', null, [], null]);
  assert.ok((FAILURE_REASONS as readonly string[]).includes(failed.error?.message ?? ''), failed.error?.message);
  const content = await get(`/tasks/${dreamMachine}/content`);
  assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);

  const agentsFailed = json<Task>(await get(`/tasks/${agents}`));
  assert.equal(agentsFailed.status, 'failed');
  assert.ok(
    AGENTS_FAILURES.some((failure) => failure.code === agentsFailed.error?.code && failure.reason === agentsFailed.error.message),
    JSON.stringify(agentsFailed.error),
  );
  assert.equal(json<Task>(await get(`/tasks/${canceled}`)).status, 'failed');
  assert.deepEqual([luma.hits(dreamMachine), luma.hits(agents), luma.hits(canceled)], [1, 1, 1]);
});

test('a bare UUID goes to luma by the UUID rule (the other UUID providers unconfigured); one it does not hold is task_not_found', async (t) => {
  const { get, luma } = await stack(t);
  const held = HELD[5]!;
  for (const asked of [held, held.toUpperCase(), `luma:${held}`]) {
    const response = await get(`/tasks/${asked}`);
    assert.equal(response.statusCode, 200, asked);
    assert.deepEqual([json<Task>(response).id, json<Task>(response).provider], [asked, 'luma']);
  }
  assert.deepEqual([luma.hits(held), luma.hits(held.toUpperCase())], [2, 1], 'the id is sent as it was asked');

  const absent = NOT_HELD[0]!;
  for (const asked of [absent, `luma:${absent}`]) {
    const missing = await get(`/tasks/${asked}`);
    assert.equal(missing.statusCode, 404, asked);
    assert.deepEqual([json(missing).code, json(missing).provider], ['task_not_found', 'luma']);
  }
  assert.equal(luma.hits(absent), 1, 'the not-found answer is remembered, whichever way the id was asked');

  const before = luma.hits();
  const malformed = await get('/tasks/luma:32ec5549-7b7a-4111-a43b');
  assert.deepEqual([malformed.statusCode, json(malformed).code], [400, 'invalid_task_id']);
  assert.match(String(json(malformed).detail), /a luma task id is a generation id: a UUID/);
  assert.equal(luma.hits(), before, 'nothing went upstream');
});

test('an ambiguous UUID is probed: the provider that holds it wins and is remembered; held by none, a 404 after asking each once', async (t) => {
  // vtrix stands in for another UUID provider, asked first.
  const { get, luma, vtrix } = await stack(t, { routes: [{ pattern: UUID_RULE, providers: ['vtrix', 'luma'] }] });
  const lumaOnly = HELD[6]!;
  for (let poll = 0; poll < 3; poll++) {
    const response = await get(`/tasks/${lumaOnly}`);
    assert.equal(response.statusCode, 200);
    assert.equal(json<Task>(response).provider, 'luma');
  }
  assert.deepEqual([vtrix.hits(lumaOnly), luma.hits(lumaOnly)], [1, 3], 'vtrix was asked once; then the answer was remembered');

  const vtrixOnly = NOT_HELD[1]!;
  vtrix.setTask(vtrixOnly, { timeline: DONE });
  const atVtrix = await get(`/tasks/${vtrixOnly}`);
  assert.deepEqual([atVtrix.statusCode, json<Task>(atVtrix).provider], [200, 'vtrix']);
  assert.deepEqual([vtrix.hits(vtrixOnly), luma.hits(vtrixOnly)], [1, 1]);

  const nowhere = NOT_HELD[2]!;
  const missing = await get(`/tasks/${nowhere}`);
  assert.deepEqual([missing.statusCode, json(missing).code], [404, 'task_not_found']);
  assert.deepEqual([vtrix.hits(nowhere), luma.hits(nowhere)], [1, 1]);
});

test('a key Luma refuses is 502 upstream_auth_failed, not echoed; its 429 is 503 with Retry-After, and the generation is still there', async (t) => {
  const wrongKey = 'luma-wrong-key-0d9e8f7a';
  const refused = await stack(t, { env: { LUMAAI_API_KEY: wrongKey } });
  const id = HELD[7]!;
  const answer = await refused.get(`/tasks/${id}`);
  assert.deepEqual([answer.statusCode, json(answer).code, json(answer).provider], [502, 'upstream_auth_failed', 'luma']);
  assert.ok(!answer.body.includes(wrongKey) && !answer.body.includes('Invalid API key'));
  assert.ok(refused.lines.every((line) => !line.includes(wrongKey)), 'no log line holds the key');
  assert.equal(refused.luma.hits(id), 1);

  const { get, luma, noKeyLogged } = await stack(t);
  luma.setTask(id, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
  luma.injectFault(id, { kind: 'rate_limit', retryAfter: 7, times: 1 });
  const limited = await get(`/tasks/${id}`);
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '7']);
  const after = json<Task>(await get(`/tasks/${id}`));
  assert.deepEqual([after.status, after.provider_status, after.error], ['in_progress', 'dreaming', null]);
  assert.equal(luma.hits(id), 2);
  noKeyLogged();
});
