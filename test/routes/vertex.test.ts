/**
 * vertex end to end: the gateway on the real simulator, with the service-account file the
 * simulator wrote. Tasks followed to succeeded (video in Cloud Storage, and inline) and to
 * failed (an error, the safety filter), their files through /content with the gateway's
 * token, not-found, the calls made upstream, and no key or token anywhere a client or a log
 * can see.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { tokenDesk } from '../../src/providers/vertex/simulator.js';
import { loggerOptions } from '../../src/server.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startSimulator } from '../../src/simulators/index.js';
import { runServer, within } from '../hardening/support.js';
import { json, startStack } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const ID = 'projects/taskgate-sim/locations/us-central1/publishers/google/models/veo-3.1-generate-preview/operations/5a0e2d71-3c94-4f8b-b1e6-7d2a9c40f813';
const PATH = `/tasks/${encodeURIComponent(ID)}`;
const RUNNING = [{ atMs: 0, status: 'in_progress' as const }];
const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const FAILED = [{ atMs: 0, status: 'failed' as const }];
const VIDEO = loadAsset('sample.webm').bytes!;
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Every lookup goes upstream (no reuse window), so a test sees each change of a story at once. */
const fresh = { env: { TASKGATE_PUBLIC_URL: PUBLIC_URL }, configure: (config: ReturnType<typeof loadConfig>) => ({ ...config, cache: { ...config.cache, freshMs: 0 } }) };

const gatewayContent = (id: string, output?: number) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;

test('an operation followed to succeeded: its Cloud Storage video through /content with the same token, one token throughout', async (t) => {
  const { app, vertex } = await startStack(t, fresh);
  const desk = tokenDesk(vertex.url);
  vertex.setTask(ID, { variant: 'gcs', timeline: RUNNING });
  const running = json<Task>(await app.inject({ url: PATH }));
  assert.deepEqual(
    [running.id, running.provider, running.provider_task_id, running.status, running.provider_status, running.progress, running.model, running.poll_after_ms],
    [ID, 'vertex', ID, 'in_progress', 'running', null, 'veo-3.1-generate-preview', 10_000],
  );

  vertex.setTask(ID, { variant: 'gcs', timeline: DONE });
  const response = await app.inject({ url: PATH });
  assert.equal(response.statusCode, 200);
  const task = json<Task>(response);
  assert.deepEqual([task.status, task.provider_status, task.progress, task.error], ['succeeded', 'done', 100, null]);
  assert.deepEqual(task.outputs, [{ type: 'video', url: gatewayContent(ID, 0) }], 'the storage object needs our token: served through the gateway');
  assert.deepEqual([task.url, task.content_url], [gatewayContent(ID, 0), gatewayContent(ID)]);
  assert.ok(!response.body.includes(vertex.url) && !response.body.includes('gs://'), 'no provider URL reaches the client');

  const content = await app.inject({ url: `${PATH}/content` });
  assert.equal(content.statusCode, 200);
  assert.equal(content.headers['content-type'], 'video/webm');
  assert.equal(sha256(content.rawPayload), sha256(VIDEO));
  const range = await app.inject({ url: `${PATH}/content`, headers: { range: 'bytes=100-199' } });
  assert.deepEqual([range.statusCode, range.headers['content-range'], range.rawPayload.length], [206, `bytes 100-199/${VIDEO.length}`, 100]);
  assert.ok(range.rawPayload.equals(VIDEO.subarray(100, 200)));

  assert.equal(vertex.hits(ID), 2, 'one status call per lookup; the downloads are no status calls');
  assert.equal(desk.issued, 1, 'one token for both lookups and both downloads');
  const sent = vertex.receivedHeaderNames();
  assert.ok(sent.has('authorization') && sent.has('x-goog-user-project'));
});

test('an inline video: the Task holds no bytes, /content asks the operation again and serves the decoded file', async (t) => {
  const { app, vertex } = await startStack(t, fresh);
  vertex.setTask(ID, { variant: 'inline', timeline: DONE });
  const response = await app.inject({ url: PATH });
  const task = json<Task>(response);
  assert.equal(task.status, 'succeeded');
  assert.deepEqual(task.outputs, [{ type: 'video', url: gatewayContent(ID, 0) }]);
  assert.ok(!response.body.includes(VIDEO.subarray(0, 48).toString('base64')), 'no base64 in the Task');
  assert.ok(response.body.length < 2000, `a small Task (${response.body.length} bytes)`);

  const content = await app.inject({ url: `${PATH}/content` });
  assert.deepEqual([content.statusCode, content.headers['content-type']], [200, 'video/webm']);
  assert.equal(sha256(content.rawPayload), sha256(VIDEO), 'the bytes of the committed sample video');
  const range = await app.inject({ url: `${PATH}/content`, headers: { range: 'bytes=0-9' } });
  assert.deepEqual([range.statusCode, range.rawPayload], [206, VIDEO.subarray(0, 10)]);
  assert.equal(vertex.hits(ID), 3, 'each /content asks the operation again: the bytes are never kept');

  const topId = ID.replace(/operations\/.*$/, 'operations/inline-top-1');
  vertex.setTask(topId, { variant: 'inline_top', timeline: DONE });
  const top = await app.inject({ url: `/tasks/${encodeURIComponent(topId)}/content` });
  assert.deepEqual([top.statusCode, sha256(top.rawPayload)], [200, sha256(VIDEO)], 'a video at the top of the response too');
});

test('failed: the operation error, and the safety filter as content_filtered; neither has content', async (t) => {
  const { app, vertex } = await startStack(t, fresh);
  const filteredId = ID.replace(/operations\/.*$/, 'operations/filtered-7c1b');
  vertex.setTask(filteredId, { variant: 'gcs', timeline: FAILED });
  const filtered = json<Task>(await app.inject({ url: `/tasks/${encodeURIComponent(filteredId)}` }));
  assert.deepEqual([filtered.status, filtered.provider_status, filtered.error?.code, filtered.url, filtered.content_url], ['failed', 'done', 'content_filtered', null, null]);
  assert.match(filtered.error?.message ?? '', /You have not been charged/);

  vertex.setTask(ID, { raw: { status: 200, body: { name: ID, done: true, error: { code: 3, message: 'Unsupported aspect ratio', status: 'INVALID_ARGUMENT' } } } });
  const failed = json<Task>(await app.inject({ url: PATH }));
  assert.deepEqual([failed.status, failed.error], ['failed', { code: '3', message: 'Unsupported aspect ratio' }]);
  const content = await app.inject({ url: `${PATH}/content` });
  assert.deepEqual([content.statusCode, json(content).code], [409, 'task_not_ready']);
});

test('an unknown operation is 404 task_not_found; one that is no operation name a 400', async (t) => {
  const { app, vertex } = await startStack(t, fresh);
  const missing = ID.replace(/operations\/.*$/, 'operations/missing-0001');
  const response = await app.inject({ url: `/tasks/${encodeURIComponent(missing)}` });
  assert.deepEqual([response.statusCode, json(response).code, json(response).provider], [404, 'task_not_found', 'vertex']);
  assert.equal(vertex.hits(missing), 1);
  const malformed = await app.inject({ url: `/tasks/vertex:${encodeURIComponent('projects/p/locations/Bad.Region/publishers/google/models/m/operations/1')}` });
  assert.deepEqual([malformed.statusCode, json(malformed).code], [400, 'invalid_task_id']);
});

test('a token that lives a minute or less is replaced at every lookup; an expired one is never sent', async (t) => {
  const { app, vertex } = await startStack(t, fresh);
  const desk = tokenDesk(vertex.url);
  desk.lifetimeSeconds = 60;
  vertex.setTask(ID, { variant: 'gcs', timeline: RUNNING });
  for (let round = 0; round < 3; round++) assert.equal(json<Task>(await app.inject({ url: PATH })).status, 'in_progress');
  assert.deepEqual([desk.issued, vertex.hits(ID)], [3, 3]);
});

test("a key the token endpoint refuses is a 502 upstream_auth_failed, and no status call is made", async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-vertex-route-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const { app, vertex } = await startStack(t, fresh);
  // The same account and token endpoint, but a key the simulator does not know.
  const account = JSON.parse(readFileSync(vertex.env['GOOGLE_APPLICATION_CREDENTIALS']!, 'utf8')) as Record<string, string>;
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const file = join(directory, 'stranger.json');
  writeFileSync(file, JSON.stringify({ ...account, private_key: stranger }));
  const config = loadConfig({ ...vertex.env, GOOGLE_APPLICATION_CREDENTIALS: file });
  const gateway = await buildApp(config, { logger: false });
  t.after(() => gateway.close());
  vertex.setTask(ID, { variant: 'gcs', timeline: DONE });
  const response = await gateway.inject({ url: PATH });
  assert.deepEqual([response.statusCode, json(response).code, json(response).detail], [502, 'upstream_auth_failed', "vertex's token endpoint refused the service account's credentials (HTTP 400)"]);
  assert.ok(!response.body.includes('PRIVATE KEY'));
  assert.deepEqual([tokenDesk(vertex.url).refused, vertex.hits(ID)], [1, 0]);
  assert.equal((await app.inject({ url: PATH })).statusCode, 200, 'the right key still works');
});

test('a service-account file that cannot be read stops the gateway from starting, naming GOOGLE_APPLICATION_CREDENTIALS', async () => {
  const config = loadConfig({ GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/taskgate/service-account.json' });
  await assert.rejects(buildApp(config, { logger: false }), /^ServiceAccountFileError: GOOGLE_APPLICATION_CREDENTIALS: cannot read the service-account file "\/nonexistent\/taskgate\/service-account.json" \(ENOENT\)/);
  // The real process: one line that names the variable, exit 1, no stack.
  const run = runServer({ HOST: '127.0.0.1', PORT: '0', GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/taskgate/service-account.json' });
  const code = await within(run.exited, 15_000, 'still running');
  if (code === 'still running') run.child.kill('SIGKILL');
  assert.equal(code, 1);
  assert.match(run.stderr(), /^taskgate: invalid configuration: GOOGLE_APPLICATION_CREDENTIALS: cannot read the service-account file "\/nonexistent\/taskgate\/service-account\.json" \(ENOENT\)/);
  assert.ok(!run.stderr().includes('    at '), 'a message, not a stack');
});

test('neither the private key nor a token reaches an answer or a log line', async (t) => {
  const vertex = await startSimulator({ provider: 'vertex' });
  t.after(() => vertex.close());
  const privateKey = (JSON.parse(readFileSync(vertex.env['GOOGLE_APPLICATION_CREDENTIALS']!, 'utf8')) as { private_key: string }).private_key;
  const keyBody = privateKey.split('\n')[1]!;
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ ...vertex.env, LOG_LEVEL: 'trace', CIRCUIT_FAILURE_THRESHOLD: '1000' });
  const app = await buildApp({ ...config, cache: { ...config.cache, freshMs: 0 } }, { logger: { ...loggerOptions('trace'), stream } });
  t.after(() => app.close());
  vertex.setTask(ID, { variant: 'gcs', timeline: DONE });
  const inlineId = ID.replace(/operations\/.*$/, 'operations/inline-1');
  vertex.setTask(inlineId, { variant: 'inline', timeline: DONE });
  vertex.injectFault(ID.replace(/operations\/.*$/, 'operations/faulted-1'), { kind: 'status', status: 403 });
  const answers: string[] = [];
  for (const url of [
    PATH,
    `${PATH}/content`,
    `/tasks/${encodeURIComponent(inlineId)}`,
    `/tasks/${encodeURIComponent(inlineId)}/content`,
    `/tasks/${encodeURIComponent(ID.replace(/operations\/.*$/, 'operations/faulted-1'))}`,
    `/tasks/${encodeURIComponent(ID.replace(/operations\/.*$/, 'operations/missing-1'))}`,
  ]) {
    const response = await app.inject({ url });
    answers.push(`${url} ${response.statusCode} ${JSON.stringify(response.headers)} ${response.headers['content-type']?.toString().startsWith('video/') === true ? '' : response.body}`);
  }
  assert.ok(answers.some((line) => line.includes(' 502 ') && line.includes('upstream_auth_failed')), 'the 403 was answered');
  assert.ok(lines.length > 5, `${lines.length} log lines`);
  assert.ok(tokenDesk(vertex.url).issued >= 1, 'tokens were minted');
  for (const text of [...answers, ...lines]) {
    assert.ok(!text.includes('ya29.'), `a token in: ${text.slice(0, 300)}`);
    assert.ok(!text.includes(keyBody) && !text.includes('PRIVATE KEY'), `the key in: ${text.slice(0, 300)}`);
  }
});
