/**
 * The real server process (`node --import tsx src/server.ts`): SIGTERM lets in-flight
 * requests finish, answers waiters with the latest state, stops taking traffic and exits
 * 0 within the grace period; a bad environment stops the boot with exit code 1.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Client, request } from 'undici';
import { startSimulator, type Simulator } from '../../src/simulators/index.js';
import { TaskSchema } from '../../schemas/task.js';
import { GRAVITEX_KEY, VTRIX_KEY } from '../helpers/stack.js';
import { runServer, startGatewayProcess, waitFor, within } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];

async function simulators(t: { after(fn: () => Promise<void>): void }): Promise<{ vtrix: Simulator; gravitex: Simulator; env: Record<string, string> }> {
  const vtrix = await startSimulator({ provider: 'vtrix', credentials: { apiKey: VTRIX_KEY } });
  const gravitex = await startSimulator({ provider: 'gravitex', credentials: { apiKey: GRAVITEX_KEY } });
  t.after(async () => {
    await Promise.all([vtrix.close(), gravitex.close()]);
  });
  return {
    vtrix,
    gravitex,
    env: { VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: vtrix.url, GRAVITEX_API_KEY: GRAVITEX_KEY, GRAVITEX_BASE_URL: gravitex.url },
  };
}

/** GET /readyz on a fresh connection: its status code, or the connection error's code. */
async function readiness(url: string): Promise<number | string> {
  const client = new Client(url, { pipelining: 0 });
  try {
    const response = await client.request({ path: '/readyz', method: 'GET', headersTimeout: 1000, bodyTimeout: 1000 });
    await response.body.dump();
    return response.statusCode;
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  } finally {
    await client.destroy();
  }
}

test('SIGTERM: in-flight requests finish, waiters get the latest state, readiness stops, exit 0', async (t) => {
  const { vtrix, env } = await simulators(t);
  const gateway = await startGatewayProcess(env);
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  assert.equal(await readiness(gateway.url), 200);

  vtrix.setTask('task_sd0001', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_sd0001', { kind: 'latency', ms: 1500 });
  vtrix.setTask('task_sd0002', { variant: 'model', timeline: RUNNING });
  // Separate connections, as separate clients would have.
  const slowClient = new Client(gateway.url);
  const waitClient = new Client(gateway.url);
  t.after(async () => {
    await Promise.all([slowClient.destroy(), waitClient.destroy()]);
  });
  const started = Date.now();
  const slow = slowClient.request({ path: '/tasks/vtrix:task_sd0001', method: 'GET' }).then(async (response) => ({
    statusCode: response.statusCode,
    body: await response.body.text(),
    at: Date.now(),
  }));
  const waiter = waitClient.request({ path: '/tasks/vtrix:task_sd0002?wait=30', method: 'GET' }).then(async (response) => ({
    statusCode: response.statusCode,
    body: await response.body.text(),
    at: Date.now(),
  }));
  // Both are inside the gateway: the slow one is at the provider, the waiter holds.
  await waitFor(() => vtrix.hits('task_sd0001') + vtrix.hits('task_sd0002'), (hits) => hits >= 2, 5000);
  await new Promise((resolve) => setTimeout(resolve, 150));

  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');

  // Readiness turns 503, or the listener is gone already: either way no new traffic.
  const ready = await waitFor(() => readiness(gateway.url), (value) => value !== 200, 2000);
  assert.ok([503, 'ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(ready), `readiness after SIGTERM: ${ready}`);

  const waited = await waiter;
  assert.equal(waited.statusCode, 200, waited.body);
  const latest = TaskSchema.parse(JSON.parse(waited.body));
  assert.equal(latest.status, 'in_progress');
  assert.equal(latest.progress, 40);
  assert.ok(waited.at - signalledAt < 2000, `the waiter was answered ${waited.at - signalledAt} ms after SIGTERM, not after 30 s`);

  const finished = await slow;
  assert.equal(finished.statusCode, 200, finished.body);
  assert.equal(TaskSchema.parse(JSON.parse(finished.body)).status, 'succeeded');
  assert.ok(finished.at - started >= 1400, 'the in-flight request really waited for its provider');

  const code = await within(gateway.exited, 8000, 'still running');
  assert.equal(code, 0, gateway.stderr());
  assert.ok(Date.now() - signalledAt < 8000);
  const logs = gateway.stdout().map((line) => JSON.parse(line) as { msg?: string; signal?: string });
  assert.ok(logs.some((entry) => entry.msg === 'shutting down' && entry.signal === 'SIGTERM'));

  // Gone for good: a new connection is refused.
  assert.equal(await readiness(gateway.url), 'ECONNREFUSED');
});

test('SIGTERM while a long-poll is still at its first lookup: it is answered when the lookup returns, not after its wait', async (t) => {
  const { vtrix, env } = await simulators(t);
  const gateway = await startGatewayProcess(env);
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  vtrix.setTask('task_sd0101', { variant: 'model', timeline: RUNNING });
  vtrix.injectFault('task_sd0101', { kind: 'latency', ms: 1000 });
  const client = new Client(gateway.url);
  t.after(() => client.destroy());
  const waiter = client.request({ path: '/tasks/vtrix:task_sd0101?wait=30', method: 'GET' }).then(async (response) => ({
    statusCode: response.statusCode,
    body: await response.body.text(),
    at: Date.now(),
  }));
  await waitFor(() => vtrix.hits('task_sd0101'), (hits) => hits === 1, 5000);
  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');

  const waited = await waiter;
  assert.equal(waited.statusCode, 200, waited.body);
  assert.equal(TaskSchema.parse(JSON.parse(waited.body)).status, 'in_progress');
  assert.ok(waited.at - signalledAt < 2500, `answered ${waited.at - signalledAt} ms after SIGTERM`);
  assert.equal(await within(gateway.exited, 8000, 'still running'), 0, gateway.stderr());
});

test('SIGINT shuts down the same way', async (t) => {
  const { env } = await simulators(t);
  const gateway = await startGatewayProcess(env);
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  const response = await request(`${gateway.url}/healthz`);
  assert.equal(response.statusCode, 200);
  await response.body.dump();
  gateway.child.kill('SIGINT');
  assert.equal(await gateway.exited, 0, gateway.stderr());
});

test('an open gateway warns once at boot, and names unconfigured providers', async (t) => {
  const { vtrix } = await simulators(t);
  const gateway = await startGatewayProcess({ VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: vtrix.url });
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  const logs = gateway.stdout().map((line) => JSON.parse(line) as { level: number; msg: string; providers?: string[] });
  const openWarnings = logs.filter((entry) => entry.level === 40 && entry.msg.includes('TASKGATE_API_KEYS'));
  assert.equal(openWarnings.length, 1);
  const unconfigured = logs.filter((entry) => entry.level === 40 && entry.providers !== undefined);
  assert.equal(unconfigured.length, 1, 'one line names every unconfigured provider');
  assert.ok(unconfigured[0]!.providers!.includes('gravitex'));
  assert.ok(!unconfigured[0]!.providers!.includes('vtrix'));
  assert.match(unconfigured[0]!.msg, /gravitex \(GRAVITEX_API_KEY\)/, 'with the variables that would configure it');
  gateway.child.kill('SIGTERM');
  assert.equal(await gateway.exited, 0);
});

test('a port in use stops the boot with exit code 1 and says what to do, not a stack', async (t) => {
  const { vtrix } = await simulators(t);
  const first = await startGatewayProcess({ VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: vtrix.url });
  t.after(() => {
    if (first.child.exitCode === null) first.child.kill('SIGKILL');
  });
  const second = runServer({ HOST: '127.0.0.1', PORT: new URL(first.url).port, VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: vtrix.url });
  const code = await within(second.exited, 15_000, 'still running');
  if (code === 'still running') second.child.kill('SIGKILL');
  assert.equal(code, 1);
  const fatal = second.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string }).find((entry) => entry.level === 60);
  assert.match(fatal?.msg ?? '', /^cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\): another process is listening there; set PORT \(and HOST\) to a free address, e\.g\. PORT=\d+$/);
  assert.ok(!second.stderr().includes('    at '), 'a message, not a stack');
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
});

test('invalid configuration stops the boot with exit code 1 and names the variable', async () => {
  const cases: Array<[Record<string, string>, string]> = [
    // Each variable's parsing is unit-tested in test/config.test.ts; here: the process exits.
    [{ PORT: 'abc' }, 'PORT'],
    [{ UPSTREAM_TIMEOUT_MS: '-5' }, 'UPSTREAM_TIMEOUT_MS'],
    [{ VTRIX_BASE_URL: 'ftp://example.com' }, 'VTRIX_BASE_URL'],
  ];
  await Promise.all(
    cases.map(async ([env, variable]) => {
      const run = runServer({ HOST: '127.0.0.1', ...env });
      const code = await within(run.exited, 15_000, 'still running');
      if (code === 'still running') run.child.kill('SIGKILL');
      assert.equal(code, 1, `${JSON.stringify(env)}: ${run.stderr()}`);
      assert.match(run.stderr(), new RegExp(`\\b${variable}\\b`), run.stderr());
      assert.ok(!run.stderr().includes('    at '), 'a message, not a stack');
    }),
  );
});

/**
 * A keep-alive client that sends its next request as soon as each answer is complete, on a
 * raw socket, so the test sees exactly what crosses the wire: every request it sent, and
 * whether each was answered, until the server says `Connection: close` or the socket ends.
 */
function busyKeepAliveClient(port: number, path: string) {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  let sent = 0;
  let answered = 0;
  let closeSaid = false;
  let buffer = '';
  let error: string | undefined;
  const send = () => {
    sent++;
    socket.write(`GET ${path} HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive\r\n\r\n`);
  };
  socket.on('connect', send);
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const head = buffer.slice(0, headerEnd);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < headerEnd + 4 + length) return;
      buffer = buffer.slice(headerEnd + 4 + length);
      answered++;
      if (/\r\nconnection: *close/i.test(head)) {
        closeSaid = true;
        return;
      }
      send();
    }
  });
  socket.on('error', (cause: NodeJS.ErrnoException) => (error = cause.code ?? 'error'));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    ended,
    get outcome() {
      return { sent, answered, closeSaid, error };
    },
  };
}

test('SIGTERM with busy keep-alive connections: every request sent is answered, the last one says Connection: close', async (t) => {
  const gateway = await startGatewayProcess({ VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: 'http://127.0.0.1:9' });
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  const port = Number(new URL(gateway.url).port);
  const clients = Array.from({ length: 16 }, () => busyKeepAliveClient(port, '/healthz'));
  // Every connection busy, requests flowing back to back.
  await waitFor(
    () => clients.map((client) => client.outcome.answered),
    (answered) => answered.every((count) => count >= 20),
    10_000,
  );
  gateway.child.kill('SIGTERM');
  assert.equal(await gateway.exited, 0);
  await Promise.all(clients.map((client) => client.ended));
  for (const [index, client] of clients.entries()) {
    const { sent, answered, closeSaid, error } = client.outcome;
    assert.equal(error, undefined, `connection ${index}: ${error} with ${sent - answered} request(s) unanswered`);
    assert.equal(answered, sent, `connection ${index}: every request it sent was answered`);
    assert.ok(closeSaid, `connection ${index}: its last answer said Connection: close`);
  }
});
