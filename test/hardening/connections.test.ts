/**
 * Slow and silent clients against the real server process: a few hundred
 * connections that send their headers or body too slowly are cut within their deadlines
 * while the gateway keeps answering; a request refused before its body arrives (no key, a
 * wrong key, a compressed body) is answered and its connection closed at once; past the
 * connection cap new connections get a 503 while an existing keep-alive one still works.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, request } from 'undici';
import { startSimulators } from '../helpers/stack.js';
import {
  assertProblem,
  configFile,
  connectRaw,
  metricValue,
  parseRawAnswer,
  startGatewayProcess,
  statusOnFreshConnection,
  waitFor,
  within,
  type RawConnection,
} from './support.js';

const CLIENT_KEY = 'slow-client-key-51c0';
const REQUEST_TIMEOUT_MS = 2000;
const BODY_IDLE_TIMEOUT_MS = 1000;
const HEADERS_TIMEOUT_MS = 1000;
/** Node checks the deadlines every half second; the rest is room for a loaded machine. */
const CUT_SLACK_MS = 2500;

function batchHead(headers: string[]): string {
  return ['POST /tasks/batch HTTP/1.1', 'Host: gateway', 'Content-Type: application/json', 'Content-Length: 60000', ...headers, '', ''].join('\r\n');
}

async function gatewayWithDeadlines(t: { after(fn: () => Promise<void> | void): void }, extraEnv: Record<string, string> = {}) {
  const { env } = await startSimulators(t);
  const config = await configFile(t, {
    http: { requestTimeoutMs: REQUEST_TIMEOUT_MS, bodyIdleTimeoutMs: BODY_IDLE_TIMEOUT_MS, headersTimeoutMs: HEADERS_TIMEOUT_MS },
  });
  const gateway = await startGatewayProcess({ ...env, TASKGATE_CONFIG: config, ...extraEnv });
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  return { gateway, port: Number(new URL(gateway.url).port) };
}

async function openMany(port: number, count: number): Promise<RawConnection[]> {
  const connections: RawConnection[] = [];
  // In small groups: a few hundred connects at once would only test the accept queue.
  for (let start = 0; start < count; start += 50) {
    connections.push(...(await Promise.all(Array.from({ length: Math.min(50, count - start) }, () => connectRaw(port)))));
  }
  return connections;
}

test('a few hundred slow clients are cut at their deadlines (408 problem), and the gateway keeps answering', async (t) => {
  const { gateway, port } = await gatewayWithDeadlines(t, { TASKGATE_API_KEYS: CLIENT_KEY, TASKGATE_RATE_LIMIT: '0' });
  const head = batchHead([`Authorization: Bearer ${CLIENT_KEY}`]);
  const dripping = await openMany(port, 150);
  const silentBodies = await openMany(port, 100);
  const partialHeaders = await openMany(port, 50);
  const startedAt = Date.now();
  for (const connection of dripping) connection.send(`${head}{"ids":[`);
  for (const connection of silentBodies) connection.send(`${head}{"ids":["task_`);
  for (const connection of partialHeaders) connection.send('POST /tasks/batch HTTP/1.1\r\nHost: gateway\r\n');
  // A byte every 250 ms: never silent for long, but the whole request never arrives.
  const drip = setInterval(() => {
    for (const connection of dripping) connection.send('"');
  }, 250);
  t.after(() => clearInterval(drip));

  const health = await request(`${gateway.url}/healthz`, { headersTimeout: 3000 });
  assert.equal(health.statusCode, 200, 'the gateway answers while 300 slow clients are connected');
  await health.body.dump();

  const bound = (deadlineMs: number) => startedAt + deadlineMs + CUT_SLACK_MS;
  const groups: Array<[string, RawConnection[], number, RegExp]> = [
    ['dripping body', dripping, REQUEST_TIMEOUT_MS, /did not arrive in time|stopped arriving/],
    ['silent body', silentBodies, BODY_IDLE_TIMEOUT_MS, /stopped arriving/],
    ['partial headers', partialHeaders, HEADERS_TIMEOUT_MS, /did not arrive in time/],
  ];
  for (const [name, connections, deadlineMs, detail] of groups) {
    const closedAt = await within(Promise.all(connections.map((connection) => connection.closed)), bound(deadlineMs) - Date.now() + 1000, 'still open');
    assert.notEqual(closedAt, 'still open', `${name}: connections still open ${deadlineMs + CUT_SLACK_MS} ms after they started`);
    for (const at of closedAt as number[]) assert.ok(at <= bound(deadlineMs), `${name}: cut ${at - startedAt} ms after it started`);
    for (const connection of connections) {
      const answer = parseRawAnswer(connection.received());
      const problem = assertProblem(answer, 408, 'invalid_request');
      assert.match(problem.detail, detail, name);
      assert.equal(answer.headers.connection, 'close');
    }
  }
  clearInterval(drip);

  const metrics = await request(`${gateway.url}/metrics`);
  const text = await metrics.body.text();
  const timeouts = metricValue(text, 'taskgate_http_connections_cut_total', { reason: 'timeout' }) ?? 0;
  const bodyIdle = metricValue(text, 'taskgate_http_connections_cut_total', { reason: 'body_idle' }) ?? 0;
  assert.equal(timeouts + bodyIdle, 300, 'every cut connection is counted');
  assert.ok(bodyIdle >= 100, `${bodyIdle} body idle cuts`);
  assert.ok(timeouts >= 50, `${timeouts} deadline cuts`);
});

test('a keyless, wrong-key or compressed upload is answered at once and its connection closed, without waiting for its body', async (t) => {
  const { port } = await gatewayWithDeadlines(t, { TASKGATE_API_KEYS: CLIENT_KEY });
  const cases: Array<[string, string[], number, string]> = [
    ['no key', [], 401, 'unauthorized'],
    ['a wrong key', ['Authorization: Bearer not-the-key'], 401, 'unauthorized'],
    ['gzip', [`Authorization: Bearer ${CLIENT_KEY}`, 'Content-Encoding: gzip'], 415, 'unsupported_media_type'],
  ];
  await Promise.all(
    cases.map(async ([name, headers, status, code]) => {
      const connection = await connectRaw(port);
      const sentAt = Date.now();
      connection.send(`${batchHead(headers)}{"ids":[`);
      // The client goes on sending, slowly, as an attacker would.
      const drip = setInterval(() => connection.send('"'), 200);
      const closedAt = await within(connection.closed, 1500, 'still open');
      clearInterval(drip);
      connection.socket.destroy();
      assert.notEqual(closedAt, 'still open', `${name}: the connection stayed open after the answer`);
      assertProblem(parseRawAnswer(connection.received()), status, code);
      assert.ok((closedAt as number) - sentAt < 1500, name);
    }),
  );
});

test('an upload whose body has arrived before its answer keeps its connection alive', async (t) => {
  const { port } = await gatewayWithDeadlines(t, { TASKGATE_API_KEYS: CLIENT_KEY });
  const connection = await connectRaw(port);
  t.after(() => connection.socket.destroy());
  const body = JSON.stringify({ ids: ['vtrix:task_keep01'] });
  const upload = ['POST /tasks/batch HTTP/1.1', 'Host: gateway', `Authorization: Bearer ${CLIENT_KEY}`, 'Content-Type: application/json', `Content-Length: ${body.length}`, '', body].join('\r\n');
  connection.send(upload);
  const first = await waitFor(() => connection.received(), (raw) => raw.includes('\r\n\r\n'), 3000);
  assert.equal(parseRawAnswer(first).headers.connection, 'keep-alive');
  // The same connection serves the next request.
  connection.send('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
  const both = await waitFor(() => connection.received(), (raw) => raw.split('HTTP/1.1 ').length === 3, 3000);
  assert.match(both.slice(first.length), /^HTTP\/1\.1 200 /);
});

test('past http.maxConnections a new connection gets a 503 problem, counted, while a keep-alive connection keeps working', async (t) => {
  const { env } = await startSimulators(t);
  const maxConnections = 20;
  const config = await configFile(t, { http: { maxConnections } });
  const gateway = await startGatewayProcess({ ...env, TASKGATE_CONFIG: config });
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  const port = Number(new URL(gateway.url).port);
  // One connection, kept alive, that never reconnects on its own.
  const keptAlive = new Client(gateway.url, { pipelining: 1, connections: 1 } as ConstructorParameters<typeof Client>[1]);
  t.after(() => keptAlive.destroy());
  const get = async (path: string) => {
    const response = await keptAlive.request({ path, method: 'GET' });
    return { statusCode: response.statusCode, body: await response.body.text() };
  };
  assert.equal((await get('/healthz')).statusCode, 200);

  const holders = await openMany(port, maxConnections - 1);
  t.after(() => holders.forEach((holder) => holder.socket.destroy()));
  const open = await waitFor(
    async () => metricValue((await get('/metrics')).body, 'taskgate_http_open_connections'),
    (value) => value === maxConnections,
    5000,
  );
  assert.equal(open, maxConnections);

  const refused = await Promise.all(Array.from({ length: 5 }, () => connectRaw(port)));
  for (const connection of refused) connection.send('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
  for (const connection of refused) {
    const closedAt = await within(connection.closed, 3000, 'still open');
    assert.notEqual(closedAt, 'still open', 'a refused connection is closed');
    const answer = parseRawAnswer(connection.received());
    assertProblem(answer, 503, 'service_unavailable');
    assert.equal(answer.headers['retry-after'], '1');
    assert.equal(answer.headers.connection, 'close');
  }

  // The established keep-alive connection is not one of the refused.
  assert.equal((await get('/healthz')).statusCode, 200);
  const metrics = (await get('/metrics')).body;
  assert.equal(metricValue(metrics, 'taskgate_http_connections_refused_total'), 5);

  // Below the cap again, new connections are taken.
  for (const holder of holders.slice(0, 5)) holder.socket.destroy();
  await Promise.all(holders.slice(0, 5).map((holder) => holder.closed));
  assert.equal(await waitFor(() => statusOnFreshConnection(`${gateway.url}/healthz`), (status) => status === 200, 3000), 200);
});
