/**
 * No secret leaks: a real run against the simulators, with faults, a provider that
 * rejects our key and clients presenting keys, logged at `trace` with the production
 * redaction (src/server.ts); neither a provider key nor a client key may appear in any
 * log line, response header or response body.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { loggerOptions } from '../../src/server.js';
import { startSimulator, type Simulator } from '../../src/simulators/index.js';
import { GRAVITEX_KEY, VTRIX_KEY } from '../helpers/stack.js';
import { readEventStream } from '../helpers/http.js';

const WRONG_GRAVITEX_KEY = 'sk-wrong-gravitex-key-5e1d0c';
const CLIENT_KEYS = ['client-secret-one-8f2b', 'client-secret-two-41aa'];
const GUESSED_CLIENT_KEY = 'client-secret-guess-77d0';
const SECRETS = [VTRIX_KEY, GRAVITEX_KEY, WRONG_GRAVITEX_KEY, ...CLIENT_KEYS, GUESSED_CLIENT_KEY];
const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];

interface Captured {
  app: FastifyInstance;
  url: string;
  vtrix: Simulator;
  gravitex: Simulator;
  lines: string[];
}

async function startLoggedGateway(t: { after(fn: () => Promise<void>): void }): Promise<Captured> {
  const vtrix = await startSimulator({ provider: 'vtrix', credentials: { apiKey: VTRIX_KEY } });
  const gravitex = await startSimulator({ provider: 'gravitex', credentials: { apiKey: GRAVITEX_KEY } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const config = loadConfig({
    VTRIX_API_KEY: VTRIX_KEY,
    VTRIX_BASE_URL: vtrix.url,
    // gravitex gets a key it does not accept: every gravitex lookup is an upstream 401.
    GRAVITEX_API_KEY: WRONG_GRAVITEX_KEY,
    GRAVITEX_BASE_URL: gravitex.url,
    TASKGATE_API_KEYS: CLIENT_KEYS.join(','),
    UPSTREAM_TIMEOUT_MS: '300',
    CIRCUIT_FAILURE_THRESHOLD: '1000',
    LOG_LEVEL: 'trace',
  });
  const app = await buildApp(config, { logger: { ...loggerOptions('trace'), stream } });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await app.close();
    await Promise.all([vtrix.close(), gravitex.close()]);
  });
  return { app, url, vtrix, gravitex, lines };
}

function assertNoSecret(where: string, text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains a key: ${text.slice(0, 400)}`);
}

test('a run with faults logs no provider or client key, and answers none', async (t) => {
  const { url, vtrix, gravitex, lines } = await startLoggedGateway(t);
  vtrix.setTask('task_s0001', { variant: 'model', timeline: DONE });
  vtrix.setTask('task_s0002', { variant: 'model', timeline: RUNNING });
  vtrix.setTask('task_s0003', { raw: { status: 200, body: { id: 'task_s0003', status: 'SOMETHING_NEW' } } });
  const faults = {
    task_s0101: { kind: 'status', status: 500, times: 3 },
    task_s0102: { kind: 'malformed' },
    task_s0103: { kind: 'html', status: 502, times: 3 },
    task_s0104: { kind: 'html', status: 200 },
    task_s0105: { kind: 'hang' },
    task_s0106: { kind: 'reset', times: 3 },
    task_s0107: { kind: 'huge', bytes: 2 * 1024 * 1024 },
    task_s0108: { kind: 'rate_limit', retryAfter: 30 },
    task_s0109: { kind: 'status', status: 403 },
    task_s0110: { kind: 'slow_drip', ms: 2000 },
  } as const;
  for (const [id, fault] of Object.entries(faults)) vtrix.injectFault(id, fault);

  const [one, two] = CLIENT_KEYS as [string, string];
  const asClient = (key: string) => ({ authorization: `Bearer ${key}` });
  const exchanges: Array<{ path: string; headers: Record<string, string> }> = [
    ...['task_s0001', 'task_s0002', 'task_s0003', ...Object.keys(faults)].map((id) => ({ path: `/tasks/vtrix:${id}`, headers: asClient(one) })),
    { path: '/tasks/vtrix:task_s0002?wait=1', headers: asClient(two) },
    { path: '/tasks/video_69095b4ce0048190893a01510c0c98b0', headers: asClient(one) },
    { path: '/tasks/task_abc001', headers: asClient(two) },
    { path: '/tasks/vtrix:task_s0001', headers: {} },
    { path: '/tasks/vtrix:task_s0001', headers: asClient(GUESSED_CLIENT_KEY) },
    { path: '/tasks/vtrix:task_s0001', headers: { authorization: `Basic ${Buffer.from(`${one}:`).toString('base64')}` } },
    { path: '/tasks/vtrix:task_s0001', headers: { authorization: `Bearer ${one} ${two}` } },
    { path: '/tasks/bad%20id', headers: asClient(one) },
    { path: '/readyz', headers: asClient(one) },
    { path: '/metrics', headers: asClient(one) },
  ];
  for (const { path, headers } of exchanges) {
    const response = await request(`${url}${path}`, { headers });
    const body = await response.body.text();
    assertNoSecret(`${path} body`, body);
    assertNoSecret(`${path} headers`, JSON.stringify(response.headers));
  }
  const stream = await readEventStream(`${url}/tasks/vtrix:task_s0001/events`, asClient(one));
  assertNoSecret('SSE stream', JSON.stringify(stream));
  const gravitexStream = await readEventStream(`${url}/tasks/gravitex:video_69095b4ce0048190893a01510c0c98b0/events`, asClient(one));
  assertNoSecret('SSE error', JSON.stringify(gravitexStream));

  // The run really happened and really was logged: otherwise "no secret in the logs" is empty.
  assert.ok(gravitex.hits() >= 1, 'gravitex was asked with the wrong key');
  assert.ok(lines.length >= exchanges.length, `${lines.length} log lines`);
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(entries.some((entry) => entry.code === 'upstream_auth_failed'), 'the rejected key was logged as a failure');
  assert.ok(entries.some((entry) => entry.code === 'upstream_timeout'));
  assert.ok(entries.some((entry) => entry.statusCode === 401));
  for (const line of lines) assertNoSecret('log line', line);
});

test('the production redaction hides keys when a whole request or the config is logged', async (t) => {
  const { app, lines } = await startLoggedGateway(t);
  const config = loadConfig({ VTRIX_API_KEY: VTRIX_KEY, GRAVITEX_API_KEY: GRAVITEX_KEY, TASKGATE_API_KEYS: CLIENT_KEYS.join(',') });
  app.log.info({ req: { method: 'GET', url: '/tasks/x', headers: { authorization: `Bearer ${CLIENT_KEYS[0]}` } } }, 'request');
  app.log.info({ headers: { authorization: `Bearer ${VTRIX_KEY}` } }, 'upstream request');
  app.log.info({ config }, 'config');
  app.log.info({ settings: config.providers.vtrix }, 'provider');
  const logged = lines.slice(-4);
  assert.equal(logged.length, 4);
  for (const line of logged) assertNoSecret('redacted line', line);
  assert.match(logged[1]!, /"authorization":"\[redacted\]"/);
  assert.match(logged[2]!, /"apiKeys":"\[redacted\]"/);
});

test('keys a provider echoes back (in an error, a status word, a model, a not-found body) are redacted from answers, logs and metrics', async (t) => {
  const { url, vtrix, lines } = await startLoggedGateway(t);
  const [one, two] = CLIENT_KEYS as [string, string];
  vtrix.setTask('task_echo01', {
    raw: { status: 200, body: { id: 'task_echo01', status: 'failed', error: { code: VTRIX_KEY, message: `rejected key ${VTRIX_KEY} for client ${one}` } } },
  });
  vtrix.setTask('task_echo02', { raw: { status: 200, body: { id: 'task_echo02', status: `stuck_${WRONG_GRAVITEX_KEY}`, model: two } } });
  vtrix.setTask('task_echo03', { raw: { status: 404, body: { message: `task not found (key ${VTRIX_KEY})` } } });
  // The key spelled with a JSON escape: not in the body's text, but in what it parses to.
  const escapedKey = `\\u${VTRIX_KEY.charCodeAt(0).toString(16).padStart(4, '0')}${VTRIX_KEY.slice(1)}`;
  vtrix.setTask('task_echo04', { raw: { status: 200, body: `{"id":"task_echo04","status":"failed","error":"bad key ${escapedKey}"}` } });
  const bodies: string[] = [];
  for (const id of ['task_echo01', 'task_echo02', 'task_echo03', 'task_echo04']) {
    const response = await request(`${url}/tasks/vtrix:${id}`, { headers: { authorization: `Bearer ${one}` } });
    const body = await response.body.text();
    assertNoSecret(`${id} answer`, body);
    bodies.push(body);
  }
  // The text was there and was cut out, not the whole answer dropped.
  const failed = JSON.parse(bodies[0]!) as { status: string; error: { code: string; message: string } };
  assert.equal(failed.status, 'failed');
  assert.deepEqual(failed.error, { code: '[redacted]', message: 'rejected key [redacted] for client [redacted]' });
  const stuck = JSON.parse(bodies[1]!) as { provider_status: string; model: string };
  assert.equal(stuck.provider_status, 'stuck_[redacted]');
  assert.equal(stuck.model, '[redacted]');
  assert.equal(JSON.parse(bodies[2]!).code, 'task_not_found');
  assert.deepEqual(JSON.parse(bodies[3]!).error, { code: 'task_failed', message: 'bad key [redacted]' });

  const metrics = await request(`${url}/metrics`);
  const text = await metrics.body.text();
  assertNoSecret('/metrics', text);
  assert.ok(text.includes('stuck_[redacted]'), 'the unknown status was counted, redacted');
  assert.ok(lines.some((line) => line.includes('stuck_[redacted]')), 'and logged, redacted');
  for (const line of lines) assertNoSecret('log line', line);
});

test('no URL handed out carries userinfo: a result URL with user:password@ loses it, and a base URL with it is refused at boot', async (t) => {
  const { url, vtrix } = await startLoggedGateway(t);
  vtrix.setTask('task_userinfo1', {
    raw: {
      status: 200,
      body: { id: 'task_userinfo1', status: 'completed', output: [{ content: [{ type: 'video', url: 'https://cdn-user:cdn-pass@cdn.example/out.mp4?sig=1' }] }] },
    },
  });
  const response = await request(`${url}/tasks/vtrix:task_userinfo1`, { headers: { authorization: `Bearer ${CLIENT_KEYS[0]}` } });
  const body = await response.body.text();
  assert.equal(response.statusCode, 200, body);
  const task = JSON.parse(body) as { url: string; outputs: Array<{ url: string }> };
  assert.equal(task.url, 'https://cdn.example/out.mp4?sig=1');
  assert.deepEqual(task.outputs.map((output) => output.url), ['https://cdn.example/out.mp4?sig=1']);
  assert.ok(!body.includes('cdn-pass') && !body.includes('cdn-user'), body);
  assert.throws(() => loadConfig({ VTRIX_BASE_URL: 'http://user:pass@127.0.0.1:9' }), /VTRIX_BASE_URL: must not contain credentials/);
  assert.throws(() => loadConfig({ TASKGATE_PUBLIC_URL: 'https://user:pass@taskgate.example' }), /TASKGATE_PUBLIC_URL: must not contain credentials/);
});
