/**
 * Traces as a collector receives them: the gateway configured by the OTEL_* variables,
 * exporting to a real OTLP/HTTP receiver on loopback, in front of the provider
 * simulators. Each test reads the spans of one behaviour (a retry, coalescing, a cache
 * hit, a continued `traceparent`, a result transfer, a poll loop) and their links.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { SPAN_KIND, STATUS_ERROR, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { json, startSimulators, withPollInterval, type Simulators } from '../helpers/stack.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const, progress: 100 }];
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SPAN_ID = 'b7ad6b7169203331';

interface Traced {
  app: FastifyInstance;
  receiver: OtlpReceiver;
  simulators: Simulators;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
}

/** The gateway with tracing on (a short batch delay so spans arrive quickly), its receiver and the simulators. */
async function tracedGateway(t: TestContext, env: Record<string, string> = {}, pollIntervalMs?: number): Promise<Traced> {
  const receiver = await startOtlpReceiver(t);
  const { simulators, env: providerEnv } = await startSimulators(t);
  const logs: Array<Record<string, unknown>> = [];
  const config = loadConfig({ ...providerEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '20', ...env });
  const app = await buildApp(pollIntervalMs === undefined ? config : withPollInterval(config, pollIntervalMs), {
    logger: { level: 'info', stream: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) } },
  });
  t.after(() => app.close());
  return { app, receiver, simulators, logs };
}

const serverSpans = (spans: readonly ReceivedSpan[]) => spans.filter((span) => span.kind === SPAN_KIND.server);
const childrenOf = (spans: readonly ReceivedSpan[], parent: ReceivedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId);
const named = (spans: readonly ReceivedSpan[], name: string) => spans.filter((span) => span.name === name);

const serverSpanOf = (spans: readonly ReceivedSpan[], requestId: string) => serverSpans(spans).find((span) => span.attributes['taskgate.request_id'] === requestId);

/** The server span of the request sent with `x-request-id: requestId`, and every span of its trace. */
function traceOf(spans: readonly ReceivedSpan[], requestId: string): { server: ReceivedSpan; trace: ReceivedSpan[] } {
  const server = serverSpanOf(spans, requestId);
  assert.ok(server !== undefined, `a server span for request ${requestId}`);
  return { server, trace: spans.filter((span) => span.traceId === server.traceId) };
}

/** Resolves once the receiver holds, for each request id, a trace of at least that many spans. */
function waitForTraces(receiver: OtlpReceiver, spansPerRequest: Record<string, number>): Promise<ReceivedSpan[]> {
  return receiver.waitFor((spans) =>
    Object.entries(spansPerRequest).every(([requestId, count]) => {
      const server = serverSpanOf(spans, requestId);
      return server !== undefined && spans.filter((span) => span.traceId === server.traceId).length >= count;
    }),
  );
}

const withId = (requestId: string, headers: Record<string, string> = {}) => ({ 'x-request-id': requestId, ...headers });

test('a retried lookup is one trace: the server span, its lookup, and each attempt with its outcome and retry reason', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.vtrix.setTask('task_trace01', { variant: 'model', timeline: DONE });
  simulators.vtrix.injectFault('task_trace01', { kind: 'status', status: 503, times: 1 });
  const response = await app.inject({ url: '/tasks/vtrix:task_trace01', headers: withId('retried') });
  assert.equal(response.statusCode, 200);

  const spans = await waitForTraces(receiver, { retried: 4 });
  const { server, trace } = traceOf(spans, 'retried');
  assert.equal(server.name, 'GET /tasks/:id');
  assert.equal(server.parentSpanId, '');
  assert.equal(server.status.code, 0);
  assert.equal(server.attributes['http.request.method'], 'GET');
  assert.equal(server.attributes['http.route'], '/tasks/:id');
  assert.equal(server.attributes['http.response.status_code'], 200);
  assert.equal(server.attributes['url.path'], '/tasks/vtrix:task_trace01');
  assert.equal(server.attributes['url.scheme'], 'http');
  assert.equal(server.resource['service.name'], 'taskgate');

  const [lookup, ...others] = childrenOf(trace, server);
  assert.equal(others.length, 0, 'the lookup is the server span’s only child');
  assert.equal(lookup!.name, 'taskgate.lookup');
  assert.equal(lookup!.attributes['taskgate.lookup.source'], 'upstream');
  assert.equal(lookup!.attributes['taskgate.provider'], 'vtrix');
  assert.match(String(lookup!.attributes['taskgate.task.id_hash']), /^[0-9a-f]{16}$/);

  const attempts = childrenOf(trace, lookup!).sort((left, right) => Number(left.attributes['taskgate.upstream.attempt']) - Number(right.attributes['taskgate.upstream.attempt']));
  assert.deepEqual(
    attempts.map((attempt) => ({
      kind: attempt.kind,
      name: attempt.name,
      attempt: attempt.attributes['taskgate.upstream.attempt'],
      outcome: attempt.attributes['taskgate.upstream.outcome'],
      status: attempt.attributes['http.response.status_code'],
      retryReason: attempt.attributes['taskgate.upstream.retry_reason'],
      resendCount: attempt.attributes['http.request.resend_count'],
      failed: attempt.status.code === STATUS_ERROR,
    })),
    [
      { kind: SPAN_KIND.client, name: 'GET /model/v1/generation/task/{id}', attempt: 1, outcome: '503', status: 503, retryReason: undefined, resendCount: undefined, failed: true },
      { kind: SPAN_KIND.client, name: 'GET /model/v1/generation/task/{id}', attempt: 2, outcome: '200', status: 200, retryReason: 'status_503', resendCount: 1, failed: false },
    ],
  );
  for (const attempt of attempts) {
    assert.equal(attempt.attributes['taskgate.provider'], 'vtrix');
    assert.equal(attempt.attributes['server.address'], '127.0.0.1');
    // The native id stays out of the attempts: the template names its place.
    assert.ok(!JSON.stringify(attempt.attributes).includes('task_trace01'), JSON.stringify(attempt.attributes));
  }
  assert.equal(receiver.exports[0]!.contentType, 'application/x-protobuf', 'protobuf is the default encoding');
});

test('concurrent requests for one task: one upstream call, the other lookup coalesced and linked to it', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.vtrix.setTask('task_shared1', { variant: 'model', timeline: DONE });
  simulators.vtrix.injectFault('task_shared1', { kind: 'latency', ms: 300, times: 1 });
  const [first, second] = await Promise.all([
    app.inject({ url: '/tasks/vtrix:task_shared1', headers: { 'x-request-id': 'coalesce-first' } }),
    app.inject({ url: '/tasks/vtrix:task_shared1', headers: { 'x-request-id': 'coalesce-second' } }),
  ]);
  assert.equal(first.statusCode, 200);
  assert.equal(second.statusCode, 200);
  assert.equal(simulators.vtrix.hits('task_shared1'), 1);

  const spans = await receiver.waitFor((received) => serverSpans(received).length >= 2 && named(received, 'taskgate.lookup').length >= 2 && received.some((span) => span.kind === SPAN_KIND.client));
  const lookups = named(spans, 'taskgate.lookup');
  const upstream = lookups.find((lookup) => lookup.attributes['taskgate.lookup.source'] === 'upstream');
  const coalesced = lookups.find((lookup) => lookup.attributes['taskgate.lookup.source'] === 'coalesced');
  assert.ok(upstream !== undefined && coalesced !== undefined, JSON.stringify(lookups.map((lookup) => lookup.attributes)));
  assert.notEqual(coalesced.traceId, upstream.traceId, 'each request is its own trace');
  assert.deepEqual(coalesced.links, [{ traceId: upstream.traceId, spanId: upstream.spanId }]);
  assert.equal(childrenOf(spans, upstream).filter((span) => span.kind === SPAN_KIND.client).length, 1);
  assert.equal(childrenOf(spans, coalesced).length, 0, 'no attempt of its own');
  for (const lookup of [upstream, coalesced]) {
    const server = spans.find((span) => span.spanId === lookup.parentSpanId);
    assert.equal(server?.kind, SPAN_KIND.server);
  }
});

test('a finished task served from memory: a lookup from the terminal cache and no upstream attempt', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.vtrix.setTask('task_cached1', { variant: 'model', timeline: DONE });
  await app.inject({ url: '/tasks/vtrix:task_cached1', headers: withId('cache-fill') });
  const again = await app.inject({ url: '/tasks/vtrix:task_cached1', headers: withId('cache-hit') });
  assert.equal(again.statusCode, 200);
  assert.equal(simulators.vtrix.hits('task_cached1'), 1);

  const spans = await waitForTraces(receiver, { 'cache-fill': 3, 'cache-hit': 2 });
  const { server, trace } = traceOf(spans, 'cache-hit');
  const lookups = childrenOf(trace, server);
  assert.deepEqual(
    lookups.map((lookup) => [lookup.name, lookup.attributes['taskgate.lookup.source'], lookup.attributes['taskgate.provider']]),
    [['taskgate.lookup', 'terminal_cache', 'vtrix']],
  );
  assert.equal(trace.filter((span) => span.kind === SPAN_KIND.client).length, 0);
});

test('an incoming traceparent is continued, and never sent on to a provider', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.gravitex.setTask('video_traceparent00000000000000000000', { variant: 'documented', timeline: DONE });
  const response = await app.inject({
    url: '/tasks/gravitex:video_traceparent00000000000000000000',
    headers: withId('continued', { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`, tracestate: 'vendor=opaque' }),
  });
  assert.equal(response.statusCode, 200);

  const spans = await waitForTraces(receiver, { continued: 3 });
  const { server, trace } = traceOf(spans, 'continued');
  assert.equal(server.traceId, TRACE_ID);
  assert.equal(server.parentSpanId, PARENT_SPAN_ID);
  assert.ok(trace.some((span) => span.kind === SPAN_KIND.client), 'the attempt is in the client’s trace');
  // Providers must not learn our clients' trace ids: what the simulator received has no trace context.
  const received = simulators.gravitex.receivedHeaderNames();
  assert.ok(received.has('authorization'), 'the simulator records what it receives');
  assert.equal(received.has('traceparent'), false);
  assert.equal(received.has('tracestate'), false);
});

test('every log line of a traced request carries its trace and span ids and the request id', async (t) => {
  const { app, receiver, simulators, logs } = await tracedGateway(t);
  simulators.vtrix.injectFault('task_broken1', { kind: 'status', status: 500 });
  const response = await app.inject({ url: '/tasks/vtrix:task_broken1', headers: { 'x-request-id': 'logs-join-traces' } });
  assert.equal(response.statusCode, 502);

  const spans = await waitForTraces(receiver, { 'logs-join-traces': 5 });
  const { server } = traceOf(spans, 'logs-join-traces');
  assert.equal(server.status.code, STATUS_ERROR, 'a 5xx answer fails the server span');
  assert.equal(server.attributes['error.type'], '502');
  const lines = logs.filter((line) => line['request_id'] === 'logs-join-traces');
  assert.deepEqual(
    lines.map((line) => line['msg']),
    ['vtrix answered HTTP 500', 'request completed'],
    'the warning and the request line',
  );
  for (const line of lines) {
    assert.equal(line['trace_id'], server.traceId);
    assert.equal(line['span_id'], server.spanId);
    assert.equal(line['trace_flags'], '01');
  }
});

test('a 4xx answer leaves the server span unfailed, with the problem noted on the lookup', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.vtrix.setTask('task_absent1', { missing: true });
  const response = await app.inject({ url: '/tasks/vtrix:task_absent1', headers: withId('absent') });
  assert.equal(response.statusCode, 404);

  const spans = await waitForTraces(receiver, { absent: 3 });
  const { server, trace } = traceOf(spans, 'absent');
  assert.equal(server.attributes['http.response.status_code'], 404);
  assert.equal(server.status.code, 0, 'HTTP semantic conventions: a 4xx is not a server error');
  const [lookup] = childrenOf(trace, server);
  assert.equal(lookup?.attributes['taskgate.problem'], 'task_not_found');
  assert.equal(lookup?.status.code, 0);
});

test('a result file transfer is a span with the bytes streamed', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.vtrix.setTask('task_file001', { variant: 'model', timeline: DONE });
  const response = await app.inject({ url: '/tasks/vtrix:task_file001/content', headers: withId('transfer') });
  assert.equal(response.statusCode, 200);
  const { size } = loadAsset('sample.webm');
  assert.equal(response.rawPayload.length, size);

  const spans = await receiver.waitFor((received) => named(received, 'taskgate.content').length === 1);
  const { server, trace } = traceOf(spans, 'transfer');
  assert.equal(server.name, 'GET /tasks/:id/content');
  const transfer = named(trace, 'taskgate.content')[0]!;
  assert.equal(transfer.parentSpanId, server.spanId);
  assert.equal(transfer.kind, SPAN_KIND.client);
  assert.equal(transfer.attributes['taskgate.provider'], 'vtrix');
  assert.equal(transfer.attributes['taskgate.content.output'], 0);
  assert.equal(transfer.attributes['http.response.status_code'], 200);
  assert.equal(transfer.attributes['taskgate.content.bytes'], size);
  assert.equal(transfer.attributes['taskgate.content.complete'], true);
});

test('a link token never reaches a trace', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t);
  simulators.vtrix.setTask('task_linked1', { variant: 'model', timeline: DONE });
  const minted = await app.inject({ method: 'POST', url: '/tasks/vtrix:task_linked1/links', payload: {} });
  assert.equal(minted.statusCode, 201);
  const taskUrl = new URL(json<{ task_url: string }>(minted).task_url);
  const token = taskUrl.searchParams.get('token')!;
  const linked = await app.inject({ url: `${taskUrl.pathname}${taskUrl.search}`, headers: withId('linked') });
  assert.equal(linked.statusCode, 200);

  const spans = await waitForTraces(receiver, { linked: 3 });
  assert.equal(traceOf(spans, 'linked').server.attributes['url.path'], taskUrl.pathname);
  assert.ok(token.length > 20);
  assert.ok(!JSON.stringify(spans).includes(token), 'no span attribute holds the token');
});

test('a poll loop’s polls are traces of their own, each with its lookup', async (t) => {
  const { app, receiver, simulators } = await tracedGateway(t, {}, 50);
  simulators.vtrix.setTask('task_polled1', {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'in_progress', progress: 10 },
      { atMs: 200, status: 'succeeded', progress: 100 },
    ],
  });
  const response = await app.inject({ url: '/tasks/vtrix:task_polled1?wait=10', headers: withId('waiting') });
  assert.equal(json(response)['status'], 'succeeded');

  const spans = await receiver.waitFor((received) => named(received, 'taskgate.poll').length >= 1 && serverSpanOf(received, 'waiting') !== undefined);
  const { server } = traceOf(spans, 'waiting');
  const polls = named(spans, 'taskgate.poll');
  for (const poll of polls) {
    assert.equal(poll.parentSpanId, '', 'a root span: the loop is not part of the request that started it');
    assert.notEqual(poll.traceId, server.traceId);
    assert.equal(poll.attributes['taskgate.provider'], 'vtrix');
  }
  // Every poll, not only the last: each has exactly one child, its lookup, in its own trace.
  await receiver.waitFor((received) => polls.every((poll) => childrenOf(received, poll).length === 1));
  for (const poll of polls) {
    const children = childrenOf(receiver.spans, poll);
    assert.deepEqual(children.map((child) => child.name), ['taskgate.lookup'], `poll ${poll.spanId}`);
    assert.equal(children[0]!.traceId, poll.traceId);
  }
  assert.equal(new Set(polls.map((poll) => poll.traceId)).size, polls.length, 'each poll is a trace of its own');
});

test('OTLP/JSON on request, with the exporter headers, service name and resource attributes given', async (t) => {
  const { app, receiver } = await tracedGateway(t, {
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k%20one,x-tenant=blue',
    OTEL_SERVICE_NAME: 'taskgate-eu',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,service.name=ignored',
  });
  await app.inject({ url: '/tasks/video_69095b4ce0048190893a01510c0c98b0' });
  const spans = await receiver.waitFor((received) => serverSpans(received).length === 1);
  const exported = receiver.exports[0]!;
  assert.match(exported.contentType, /^application\/json/);
  assert.equal(exported.headers['x-collector-key'], 'k one');
  assert.equal(exported.headers['x-tenant'], 'blue');
  assert.equal(spans[0]!.resource['service.name'], 'taskgate-eu', 'OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES');
  assert.equal(spans[0]!.resource['deployment.environment.name'], 'staging');
});

test('probes and scrapes make no traces', async (t) => {
  const { app, receiver } = await tracedGateway(t);
  for (const url of ['/healthz', '/readyz', '/metrics']) assert.equal((await app.inject({ url })).statusCode, 200);
  await app.inject({ url: '/no/such/path' });
  const spans = await receiver.waitFor((received) => serverSpans(received).length >= 1);
  assert.deepEqual(
    serverSpans(spans).map((span) => [span.name, span.attributes['url.path']]),
    [['GET', '/no/such/path']],
  );
});
