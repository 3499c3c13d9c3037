/**
 * Shutdown of the real server process, bounded whatever the clients and the log reader do
 *: connections with no request in progress (idle keep-alive ones, stalled
 * ones still sending headers or a body) are closed at once and only a request in progress
 * gets the grace; a GET sent right after SIGTERM gets a whole answer or finds its
 * connection closed before any byte of one (safe to retry); with shutdownDelayMs the
 * gateway is unready but serving during the delay, each answer with `Connection: close`; a stdout nobody reads, or nobody at
 * all, holds neither the requests nor the exit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, request } from 'undici';
import { TaskSchema } from '../../schemas/task.js';
import { startSimulators } from '../helpers/stack.js';
import {
  configFile,
  connectRaw,
  metricValue,
  parseRawAnswer,
  startGatewayProcess,
  statusOnFreshConnection,
  waitFor,
  within,
  type GatewayProcess,
  type RawConnection,
} from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
/** Far below the default shutdownGraceMs (10 s): what "at once" means on a loaded machine. */
const AT_ONCE_MS = 2000;
const HEALTH_KEEP_ALIVE = 'GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n';

function killAfter(t: { after(fn: () => void): void }, gateway: GatewayProcess): void {
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
}

/** A raw connection that has had one keep-alive answer and is now idle. */
async function idleKeepAlive(port: number): Promise<RawConnection> {
  const connection = await connectRaw(port);
  connection.send(HEALTH_KEEP_ALIVE);
  const answered = await waitFor(() => parseRawAnswer(connection.received()), (answer) => answer.statusCode === 200 && answer.body.includes('"ok"'), 5000);
  assert.equal(answered.statusCode, 200);
  return connection;
}

test('on SIGTERM idle and stalled connections are closed at once (a GET sent just then gets a whole answer or none), the request in progress finishes, and the exit is 0 well within the grace', async (t) => {
  const { simulators, env } = await startSimulators(t);
  const gateway = await startGatewayProcess(env);
  killAfter(t, gateway);
  const port = Number(new URL(gateway.url).port);
  simulators.vtrix.setTask('task_sb0001', { variant: 'model', timeline: DONE });
  simulators.vtrix.injectFault('task_sb0001', { kind: 'latency', ms: 1500 });

  const inProgressClient = new Client(gateway.url);
  t.after(() => inProgressClient.destroy());
  const inProgress = inProgressClient.request({ path: '/tasks/vtrix:task_sb0001', method: 'GET' }).then(async (response) => ({
    statusCode: response.statusCode,
    connection: response.headers.connection,
    body: await response.body.text(),
  }));
  // Ten slow clients (half still sending headers, half a body) and three idle keep-alive ones.
  const slowHeaders = await Promise.all(Array.from({ length: 5 }, () => connectRaw(port)));
  for (const connection of slowHeaders) connection.send('GET /healthz HTTP/1.1\r\nHost: gate');
  const slowBodies = await Promise.all(Array.from({ length: 5 }, () => connectRaw(port)));
  for (const connection of slowBodies) {
    connection.send('POST /tasks/batch HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"ids":[');
  }
  const idle = await Promise.all(Array.from({ length: 3 }, () => idleKeepAlive(port)));
  // And keep-alive clients that send their next GET right after the signal.
  const askingLate = await Promise.all(Array.from({ length: 10 }, () => idleKeepAlive(port)));
  const bytesBefore = new Map([...idle, ...askingLate].map((connection) => [connection, connection.received().length]));
  await waitFor(() => simulators.vtrix.hits('task_sb0001'), (hits) => hits === 1, 5000);

  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');
  for (const connection of askingLate) connection.send(HEALTH_KEEP_ALIVE);
  const everyOther = [...slowHeaders, ...slowBodies, ...idle, ...askingLate];
  const closedAt = await within(Promise.all(everyOther.map((connection) => connection.closed)), AT_ONCE_MS, 'still open');
  assert.notEqual(closedAt, 'still open', 'idle and stalled connections were not closed at once');
  for (const connection of idle) assert.equal(connection.received().length, bytesBefore.get(connection), 'an idle connection is closed, not answered');
  for (const connection of askingLate) {
    const after = connection.received().slice(bytesBefore.get(connection));
    // Closed before the GET was read: nothing was done, so a retry elsewhere is safe.
    if (after === '') continue;
    // Read before the signal was handled (keep-alive) or after it (close): a whole answer either way.
    const answer = parseRawAnswer(after);
    assert.equal(answer.statusCode, 200, after.slice(0, 200));
    assert.equal(Buffer.byteLength(answer.body), Number(answer.headers['content-length']), 'a whole answer, never part of one');
  }

  const finished = await inProgress;
  assert.equal(finished.statusCode, 200, finished.body);
  assert.equal(TaskSchema.parse(JSON.parse(finished.body)).status, 'succeeded');
  assert.equal(finished.connection, 'close');

  const code = await within(gateway.exited, 5000, 'still running');
  assert.equal(code, 0, gateway.stderr());
  assert.ok(Date.now() - signalledAt < 5000, 'ten slow clients did not hold the exit for the grace');
});

test('with shutdownDelayMs, /readyz is 503 at once while /tasks keeps answering (with Connection: close), then the exit is 0', async (t) => {
  const { simulators, env } = await startSimulators(t);
  const delayMs = 1000;
  const gateway = await startGatewayProcess({ ...env, TASKGATE_CONFIG: await configFile(t, { shutdownDelayMs: delayMs }) });
  killAfter(t, gateway);
  simulators.vtrix.setTask('task_sb0201', { variant: 'model', timeline: DONE });
  const keptAlive = new Client(gateway.url, { pipelining: 1 });
  t.after(() => keptAlive.destroy());
  const first = await keptAlive.request({ path: '/tasks/vtrix:task_sb0201', method: 'GET' });
  assert.equal(first.statusCode, 200);
  assert.notEqual(first.headers.connection, 'close');
  await first.body.dump();

  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');
  assert.equal(await waitFor(() => statusOnFreshConnection(`${gateway.url}/readyz`), (status) => status === 503, 1000), 503);

  // The connection from before SIGTERM: answered, and told to go.
  const during = await keptAlive.request({ path: '/tasks/vtrix:task_sb0201', method: 'GET' });
  assert.equal(during.statusCode, 200);
  assert.equal(during.headers.connection, 'close');
  assert.equal(TaskSchema.parse(JSON.parse(await during.body.text())).status, 'succeeded');
  // A new connection during the delay: served too.
  const fresh = await request(`${gateway.url}/tasks/vtrix:task_sb0201`);
  assert.equal(fresh.statusCode, 200);
  assert.equal(fresh.headers.connection, 'close');
  await fresh.body.dump();
  assert.ok(Date.now() - signalledAt < delayMs, 'all of that happened during the delay');

  assert.equal(await within(gateway.exited, delayMs + 5000, 'still running'), 0, gateway.stderr());
  assert.ok(Date.now() - signalledAt >= delayMs - 100, 'the gateway served for the whole delay');
});

/** Requests whose log lines carry a 14 KB URL: `count` of 100 make 1.4 MB of logs, several pipe buffers. */
async function floodTheLog(url: string, count: number): Promise<void> {
  const path = `/no/such/${'x'.repeat(14_000)}`;
  const one = async (index: number) => {
    const response = await request(`${url}${path}${index}`, { headersTimeout: 5000, bodyTimeout: 5000 });
    assert.equal(response.statusCode, 404);
    await response.body.dump();
  };
  for (let index = 0; index < count; index += 10) await Promise.all(Array.from({ length: 10 }, (_, offset) => one(index + offset)));
}

test('a stdout pipe nobody reads stalls neither the requests nor the exit; the dropped log lines are counted', async (t) => {
  const { env } = await startSimulators(t);
  const gateway = await startGatewayProcess(env, { stdoutAfterStart: 'stop-reading' });
  killAfter(t, gateway);
  await floodTheLog(gateway.url, 100);
  const metrics = await request(`${gateway.url}/metrics`);
  assert.ok((metricValue(await metrics.body.text(), 'taskgate_log_lines_dropped_total') ?? 0) > 0, 'the sink dropped lines rather than queue them all');

  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');
  assert.equal(await within(gateway.exited, 5000, 'still running'), 0, gateway.stderr());
  assert.ok(Date.now() - signalledAt < 5000);
});

test('a stdout whose reader went away stalls neither the requests nor the exit', async (t) => {
  const { env } = await startSimulators(t);
  const gateway = await startGatewayProcess(env, { stdoutAfterStart: 'close' });
  killAfter(t, gateway);
  await floodTheLog(gateway.url, 20);
  gateway.child.kill('SIGTERM');
  assert.equal(await within(gateway.exited, 5000, 'still running'), 0, gateway.stderr());
});
