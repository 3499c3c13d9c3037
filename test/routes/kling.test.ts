/**
 * kling end to end: the gateway signs its own JWTs for the kling simulator, which checks
 * them exactly; a bare id asked at both actions at once and remembered, tasks followed to
 * succeeded and failed, their files through /content, not-found, a token Kling calls expired
 * replaced and the call made once more, and no key or token in any answer or log line.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Task } from '../../schemas/task.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator } from '../../src/simulators/index.js';
import { json, PROVIDER_CREDENTIALS, startStack, withPollInterval, type StackOptions } from '../helpers/stack.js';

const PUBLIC_URL = 'https://taskgate.example';
const EXAMPLE = '867283741759111202';
const TASK = 'text2video/812345678901234567';
/** The base64url of `{"alg":"HS256","typ":"JWT"}`: every token the gateway signs starts with it. */
const JWT_PREFIX = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** A stack whose running answers are never reused, so every GET asks upstream. */
function stack(t: Parameters<typeof startStack>[0], options: StackOptions = {}) {
  return startStack(t, {
    ...options,
    env: { TASKGATE_PUBLIC_URL: PUBLIC_URL, ...options.env },
    configure: (config) => {
      const configured = options.configure?.(config) ?? config;
      return { ...configured, cache: { ...configured.cache, freshMs: 0 } };
    },
  });
}

const content = (id: string, output?: number) => `${PUBLIC_URL}/tasks/${encodeURIComponent(id)}/content${output === undefined ? '' : `?output=${output}`}`;

test('a bare numeric id is asked at text2video and image2video at once; the one that has it is remembered', async (t) => {
  const { app, kling } = await stack(t);
  const first = await app.inject({ url: `/tasks/${EXAMPLE}` });
  assert.equal(first.statusCode, 200);
  const task = json<Task>(first);
  assert.deepEqual(
    [task.id, task.provider, task.provider_task_id, task.status, task.provider_status, task.progress, task.poll_after_ms],
    [EXAMPLE, 'kling', `image2video/${EXAMPLE}`, 'in_progress', 'processing', null, 5000],
  );
  assert.deepEqual([kling.hits(`text2video/${EXAMPLE}`), kling.hits(`image2video/${EXAMPLE}`)], [1, 1]);
  const second = await app.inject({ url: `/tasks/${EXAMPLE}` });
  assert.equal(json<Task>(second).provider_task_id, `image2video/${EXAMPLE}`);
  assert.deepEqual([kling.hits(`text2video/${EXAMPLE}`), kling.hits(`image2video/${EXAMPLE}`)], [1, 2], 'remembered: only image2video is asked again');
});

test('a task followed to succeeded: its video through /content, completed_at from Kling\'s last update', async (t) => {
  const { app, kling } = await stack(t, { configure: (config) => withPollInterval(config, 50) });
  kling.setTask(TASK, {
    timeline: [
      { atMs: 0, status: 'queued' },
      { atMs: 100, status: 'in_progress' },
      { atMs: 300, status: 'succeeded' },
    ],
  });
  const id = `kling:${TASK}`;
  const queued = json<Task>(await app.inject({ url: `/tasks/${encodeURIComponent(id)}` }));
  assert.deepEqual([queued.status, queued.provider_status], ['queued', 'submitted']);
  const done = json<Task>(await app.inject({ url: `/tasks/${encodeURIComponent(id)}?wait=10` }));
  assert.deepEqual(
    [done.id, done.status, done.provider_status, done.progress, done.error, done.url, done.content_url],
    [id, 'succeeded', 'succeed', 100, null, content(id, 0), content(id)],
  );
  assert.deepEqual(done.outputs, [{ type: 'video', url: content(id, 0) }]);
  assert.ok(Date.parse(done.completed_at ?? '') >= Date.parse(done.created_at ?? ''));
  assert.ok(kling.hits(TASK) >= 2);
  const file = await app.inject({ url: `/tasks/${encodeURIComponent(id)}/content` });
  assert.equal(file.statusCode, 200);
  assert.equal(file.headers['content-type'], 'video/webm');
  assert.ok(file.rawPayload.length > 1000);
});

test('a failed task: task_failed with Kling\'s reason, no files', async (t) => {
  const { app } = await stack(t);
  const task = json<Task>(await app.inject({ url: `/tasks/kling:text2video%2F743211632612511839` }));
  assert.equal(task.status, 'failed');
  assert.equal(task.error?.code, 'task_failed');
  assert.ok(['Failure to pass the risk control system', 'Generation timeout', 'Image quality too low'].includes(task.error?.message ?? ''), task.error?.message);
  assert.deepEqual([task.url, task.outputs, task.content_url], [null, [], null]);
});

test('not found: the wrong action, both actions of a bare id, and code 1203 inside an HTTP 200', async (t) => {
  const { app, kling } = await stack(t);
  const wrongAction = await app.inject({ url: `/tasks/kling:text2video%2F${EXAMPLE}` });
  assert.deepEqual([wrongAction.statusCode, json(wrongAction).code, json(wrongAction).provider], [404, 'task_not_found', 'kling']);
  const missing = '812345678901234999';
  kling.setTask(`text2video/${missing}`, { missing: true });
  kling.setTask(`image2video/${missing}`, { missing: true });
  const bare = await app.inject({ url: `/tasks/kling:${missing}` });
  assert.deepEqual([bare.statusCode, json(bare).code], [404, 'task_not_found']);
  assert.deepEqual([kling.hits(`text2video/${missing}`), kling.hits(`image2video/${missing}`)], [1, 1]);
  kling.setTask(TASK, { raw: { status: 200, body: { code: 1203, message: 'Requested resource does not exist', request_id: 'r' } } });
  const inEnvelope = await app.inject({ url: `/tasks/kling:${encodeURIComponent(TASK)}` });
  assert.deepEqual([inEnvelope.statusCode, json(inEnvelope).code], [404, 'task_not_found']);
});

test('a token Kling calls expired (1004) is replaced and the call made exactly once more', async (t) => {
  const { app, kling } = await stack(t);
  const id = 'text2video/867283741759111004';
  const response = await app.inject({ url: `/tasks/kling:${encodeURIComponent(id)}` });
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(json<Task>(response).status, 'succeeded');
  assert.equal(kling.hits(id), 2, 'the first call is refused, the second (with a new token) answered');
  // The refused token stays refused: had the gateway kept it, this would be a 502.
  const again = await app.inject({ url: `/tasks/kling:${encodeURIComponent(TASK)}` });
  assert.equal(again.statusCode, 200, again.body);
});

test('a wrong secret key is upstream_auth_failed, asked once; Kling\'s rate limit is upstream_rate_limited', async (t) => {
  const { app, kling } = await stack(t, { env: { KLING_SECRET_KEY: 'not-the-secret-key-0b9e' } });
  const refused = await app.inject({ url: `/tasks/kling:${encodeURIComponent(TASK)}` });
  assert.deepEqual([refused.statusCode, json(refused).code, json(refused).provider], [502, 'upstream_auth_failed', 'kling']);
  assert.equal(kling.hits(TASK), 1);
  const other = await stack(t);
  other.kling.injectFault(TASK, { kind: 'rate_limit', retryAfter: 7 });
  const limited = await other.app.inject({ url: `/tasks/kling:${encodeURIComponent(TASK)}` });
  assert.deepEqual([limited.statusCode, json(limited).code, limited.headers['retry-after']], [503, 'upstream_rate_limited', '7']);
});

test('no key and no token in any answer or log line, at trace level', async (t) => {
  const credentials = PROVIDER_CREDENTIALS.kling;
  const simulator = await startSimulator({ provider: 'kling', credentials });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({ ...simulator.env, LOG_LEVEL: 'trace' });
  const app = await buildApp({ ...config, cache: { ...config.cache, freshMs: 0 } }, { logger: { ...loggerOptions('trace'), stream } });
  t.after(async () => {
    await app.close();
    await simulator.close();
  });
  const { accessKey, secretKey } = credentials as { accessKey: string; secretKey: string };
  simulator.setTask(TASK, { timeline: [{ atMs: 0, status: 'succeeded' }] });
  // Upstream text that echoes the keys: redacted in the answer, not only absent.
  const echoing = 'text2video/812345678901234568';
  simulator.setTask(echoing, { raw: { status: 200, body: { code: 0, data: { task_status: 'failed', task_status_msg: `bad key ${accessKey}` } } } });
  const erring = 'text2video/812345678901234569';
  simulator.setTask(erring, { raw: { status: 500, body: { code: 5000, message: `internal error for ${accessKey} ${secretKey}` } } });
  const paths = [EXAMPLE, `kling:${encodeURIComponent(TASK)}`, `kling:${encodeURIComponent(TASK)}/content`, 'kling:text2video%2F867283741759111004', `kling:${encodeURIComponent(echoing)}`, `kling:${encodeURIComponent(erring)}`];
  const answers = await Promise.all(paths.map((path) => app.inject({ url: `/tasks/${path}` })));
  assert.deepEqual(answers.map((answer) => answer.statusCode), [200, 200, 200, 200, 200, 502]);
  assert.deepEqual(json<Task>(answers[4]!).error, { code: 'task_failed', message: 'bad key [redacted]' });
  assert.ok(simulator.hits() >= 7, 'the gateway made its calls');
  assert.ok(lines.some((line) => line.includes('"cause":5000')), 'the error was logged');
  const secrets = [accessKey, secretKey, JWT_PREFIX];
  for (const text of [...lines, ...answers.flatMap((answer) => [answer.body, JSON.stringify(answer.headers)])]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} in ${text.slice(0, 300)}`);
  }
});
