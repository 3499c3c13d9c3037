/**
 * Tracing off costs nothing: with no OTLP endpoint, or with one but OTEL_SDK_DISABLED=true
 * or OTEL_TRACES_EXPORTER=none, no module of OpenTelemetry is loaded, nothing reaches a
 * collector, and log lines carry no trace ids. The tests run in file order: the last one
 * turns tracing on in this same process and sees the SDK loaded, so the check can fail.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { NOOP_TRACER } from '../../src/tracing/api.js';
import { startTracing } from '../../src/tracing/tracer.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSimulators } from '../helpers/stack.js';

const require = createRequire(import.meta.url);

/**
 * The OpenTelemetry SDK modules (and @fastify/otel) this process has loaded so far. The API
 * package alone is not among them: prom-client loads it for exemplars, and with no SDK
 * registered it is a no-op.
 */
function loadedTelemetryModules(): string[] {
  return Object.keys(require.cache).filter(
    (path) => (path.includes('/node_modules/@opentelemetry/') && !path.includes('/node_modules/@opentelemetry/api/')) || path.includes('/node_modules/@fastify/otel/'),
  );
}

/** A few requests that reach a provider and the cache, then close (which would flush spans). */
async function serveSomeRequests(t: TestContext, env: Record<string, string>): Promise<Array<Record<string, unknown>>> {
  const { simulators, env: providerEnv } = await startSimulators(t);
  simulators.vtrix.setTask('task_untraced', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded', progress: 100 }] });
  const logs: Array<Record<string, unknown>> = [];
  const app = await buildApp(loadConfig({ ...providerEnv, OTEL_BSP_SCHEDULE_DELAY: '20', ...env }), {
    logger: { level: 'info', stream: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) } },
  });
  for (let index = 0; index < 3; index++) assert.equal((await app.inject({ url: '/tasks/vtrix:task_untraced' })).statusCode, 200);
  await app.close();
  return logs.filter((line) => line['msg'] === 'request completed');
}

// One collector for the whole file, listening from the first test to the last.
const receiver: OtlpReceiver = await startOtlpReceiver({ after });

test('no OTLP endpoint: no OpenTelemetry module is loaded, and log lines have only the request id', async (t) => {
  const lines = await serveSomeRequests(t, {});
  assert.equal(lines.length, 3);
  for (const line of lines) {
    assert.match(String(line['request_id']), /^[0-9a-f-]{36}$/);
    assert.equal('trace_id' in line, false);
  }
  assert.deepEqual(loadedTelemetryModules(), []);
});

for (const [name, env] of [
  ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true' }],
  ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none' }],
] as const) {
  test(`an endpoint with ${name}: nothing loaded, nothing exported`, async (t) => {
    const lines = await serveSomeRequests(t, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env });
    assert.equal(lines.length, 3, 'one line per request');
    assert.equal(lines.some((line) => 'trace_id' in line), false);
    assert.deepEqual(loadedTelemetryModules(), []);
    assert.equal(receiver.exports.length, 0);
  });
}

test('tracing off hands out the no-op tracer: one inert span, the work run as it is, nothing hooked', async () => {
  const app = Fastify();
  const tracing = await startTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' }).tracing, {
    serviceVersion: 'test',
    log: app.log,
  });
  assert.equal(tracing.tracer, NOOP_TRACER);
  const span = tracing.tracer.startSpan('taskgate.lookup', { attributes: { 'taskgate.provider': 'vtrix' } });
  assert.equal(tracing.tracer.startSpan('taskgate.poll', { root: true }), span, 'one span object for every call');
  assert.equal(span.isRecording(), false);
  const work = Promise.resolve('answer');
  assert.equal(
    tracing.tracer.inSpan('taskgate.lookup', {}, () => work),
    work,
    "the work's own promise, not a wrapper",
  );
  assert.equal(
    tracing.tracer.withSpan(span, () => 'ran'),
    'ran',
  );
  await tracing.instrument(app);
  const handlers: unknown[] = [];
  app.addHook('onRoute', (route) => void handlers.push(route.handler));
  const handler = () => 'ok';
  app.get('/probe', handler);
  await app.ready();
  assert.equal(handlers[0], handler, 'the route keeps its own handler: nothing wraps it in a trace');
  assert.equal(app.hasDecorator('opentelemetry') || app.hasRequestDecorator('opentelemetry'), false);
  await app.close();
  assert.deepEqual(loadedTelemetryModules(), []);
});

test('the same requests with the endpoint alone load the SDK and export their spans', async (t) => {
  const lines = await serveSomeRequests(t, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  assert.equal(lines.length, 3, 'one line per request');
  assert.ok(lines.every((line) => typeof line['trace_id'] === 'string'));
  assert.ok(loadedTelemetryModules().some((path) => path.includes('/@opentelemetry/sdk-trace/')));
  // close() flushed them: no waiting needed.
  assert.equal(receiver.spans.filter((span) => span.name === 'GET /tasks/:id').length, 3);
});
