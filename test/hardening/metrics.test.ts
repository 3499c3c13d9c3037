/**
 * /metrics in the Prometheus text format: what an operator needs to see a polling storm,
 * a sick provider or a provider's new status word, with label sets that cannot explode.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startSimulator } from '../../src/simulators/index.js';
import { startStack, VTRIX_KEY } from '../helpers/stack.js';
import { header, metricValue } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const RUNNING = [{ atMs: 0, status: 'in_progress' as const, progress: 40 }];

async function scrape(app: { inject(options: { url: string }): Promise<{ body: string; statusCode: number; headers: Record<string, unknown> }> }) {
  const response = await app.inject({ url: '/metrics' });
  assert.equal(response.statusCode, 200);
  return response.body;
}

test('Prometheus text format, with process metrics', async (t) => {
  const { app } = await startStack(t);
  const response = await app.inject({ url: '/metrics' });
  assert.match(header(response, 'content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = response.body;
  assert.match(text, /^# HELP taskgate_http_requests_total /m);
  assert.match(text, /^# TYPE taskgate_http_requests_total counter$/m);
  assert.ok((metricValue(text, 'taskgate_process_resident_memory_bytes') ?? 0) > 0);
  assert.ok((metricValue(text, 'taskgate_process_start_time_seconds') ?? 0) > 0);
  assert.notEqual(metricValue(text, 'taskgate_nodejs_eventloop_lag_seconds'), undefined);
  assert.ok((metricValue(text, 'taskgate_nodejs_heap_size_used_bytes') ?? 0) > 0);
});

test('HTTP requests by route pattern and status: ids and unknown paths never become labels', async (t) => {
  const { app, vtrix } = await startStack(t);
  for (const id of ['task_m0001', 'task_m0002', 'task_m0003']) vtrix.setTask(id, { variant: 'model', timeline: DONE });
  for (const id of ['task_m0001', 'task_m0002', 'task_m0003']) await app.inject({ url: `/tasks/vtrix:${id}` });
  await app.inject({ url: '/tasks/bad%20id' });
  await app.inject({ url: '/no/such/path/1' });
  await app.inject({ url: '/no/such/path/2' });
  await app.inject({ url: '/healthz' });
  const text = await scrape(app);
  assert.equal(metricValue(text, 'taskgate_http_requests_total', { method: 'GET', route: '/tasks/:id', status: '200' }), 3);
  assert.equal(metricValue(text, 'taskgate_http_requests_total', { method: 'GET', route: '/tasks/:id', status: '400' }), 1);
  assert.equal(metricValue(text, 'taskgate_http_requests_total', { method: 'GET', route: '/healthz', status: '200' }), 1);
  const unmatched = text.split('\n').filter((line) => line.startsWith('taskgate_http_requests_total') && line.includes('status="404"'));
  assert.equal(unmatched.length, 1, unmatched.join('\n'));
  assert.match(unmatched[0]!, / 2$/);
  for (const leaked of ['task_m0001', 'bad id', 'bad%20id', '/no/such']) assert.ok(!text.includes(leaked), leaked);
});

test(
  'HTTP request durations are observed',
  async (t) => {
    const { app } = await startStack(t);
    await app.inject({ url: '/healthz' });
    const text = await scrape(app);
    assert.equal(metricValue(text, 'taskgate_http_request_duration_seconds_count', { route: '/healthz' }), 1);
  },
);

test('upstream attempts by provider and outcome, their latency histogram, and retries', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  vtrix.setTask('task_m0101', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_m0101', { kind: 'status', status: 503, times: 2 });
  vtrix.setTask('task_m0102', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_m0102', { kind: 'reset', times: 1 });
  vtrix.injectFault('task_m0103', { kind: 'huge', bytes: 2 * 1024 * 1024 });
  assert.equal((await app.inject({ url: '/tasks/vtrix:task_m0101' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/tasks/vtrix:task_m0102' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/tasks/vtrix:task_m0103' })).statusCode, 502);
  assert.equal((await app.inject({ url: '/tasks/gravitex:video_missing0000000000000000000000000' })).statusCode, 404);
  const text = await scrape(app);

  const outcome = (provider: string, value: string) => metricValue(text, 'taskgate_upstream_requests_total', { provider, outcome: value });
  assert.equal(outcome('vtrix', '503'), 2);
  assert.equal(outcome('vtrix', '200'), 2);
  assert.equal(outcome('vtrix', 'connection_error'), 1);
  assert.equal(outcome('vtrix', 'oversized'), 1);
  assert.equal(outcome('gravitex', '400'), 1, 'gravitex says "task_not_exist" with a 400');

  assert.equal(metricValue(text, 'taskgate_upstream_retries_total', { provider: 'vtrix', reason: 'status_503' }), 2);
  assert.equal(metricValue(text, 'taskgate_upstream_retries_total', { provider: 'vtrix', reason: 'connection_error' }), 1);

  const count = metricValue(text, 'taskgate_upstream_request_duration_seconds_count', { provider: 'vtrix' });
  assert.equal(count, 6, 'one observation per attempt');
  assert.equal(metricValue(text, 'taskgate_upstream_request_duration_seconds_bucket', { provider: 'vtrix', le: '+Inf' }), 6);
  assert.ok((metricValue(text, 'taskgate_upstream_request_duration_seconds_sum', { provider: 'vtrix' }) ?? 0) > 0);
  assert.equal(vtrix.hits(), 6);
  assert.equal(gravitex.hits(), 1);
});

test('timeouts are an outcome of their own', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { UPSTREAM_TIMEOUT_MS: '100' } });
  vtrix.injectFault('task_m0201', { kind: 'hang' });
  assert.equal((await app.inject({ url: '/tasks/vtrix:task_m0201' })).statusCode, 504);
  const text = await scrape(app);
  assert.equal(metricValue(text, 'taskgate_upstream_requests_total', { provider: 'vtrix', outcome: 'timeout' }), 1);
});

test('circuit state per provider, closed (0) from the start', async (t) => {
  const { app } = await startStack(t, { unconfigured: ['gravitex'] });
  const text = await scrape(app);
  assert.equal(metricValue(text, 'taskgate_circuit_state', { provider: 'vtrix' }), 0);
  assert.equal(metricValue(text, 'taskgate_circuit_state', { provider: 'gravitex' }), 0);
});

test('unknown upstream statuses are counted by provider and lower-cased word', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t);
  vtrix.setTask('task_weird01', { raw: { status: 200, body: { id: 'task_weird01', status: 'WEIRD_STATE' } } });
  gravitex.setTask('video_weird0000000000000000000000000000', {
    variant: 'wrapped',
    timeline: [{ atMs: 0, status: 'in_progress', providerStatus: 'Rendering' }],
  });
  const weird = await app.inject({ url: '/tasks/vtrix:task_weird01' });
  assert.equal(weird.statusCode, 200);
  assert.equal(JSON.parse(weird.body).status, 'in_progress');
  assert.equal(JSON.parse(weird.body).provider_status, 'WEIRD_STATE');
  assert.equal((await app.inject({ url: '/tasks/video_weird0000000000000000000000000000' })).statusCode, 200);
  const text = await scrape(app);
  assert.equal(metricValue(text, 'taskgate_unknown_upstream_status_total', { provider: 'vtrix', status: 'weird_state' }), 1);
  assert.equal(metricValue(text, 'taskgate_unknown_upstream_status_total', { provider: 'gravitex', status: 'rendering' }), 1);
  // Mapped words, including gravitex's documented `unknown`, are not "unknown statuses".
  assert.ok(!/taskgate_unknown_upstream_status_total\{[^}]*status="(in_progress|processing|unknown)"/.test(text));
});

test('a provider inventing status words cannot grow the label set without bound', async (t) => {
  const { app, vtrix } = await startStack(t);
  for (let index = 0; index < 70; index++) {
    vtrix.setTask(`task_words${index}`, { raw: { status: 200, body: { id: `task_words${index}`, status: `novel_word_${index}` } } });
    assert.equal((await app.inject({ url: `/tasks/vtrix:task_words${index}` })).statusCode, 200);
  }
  const text = await scrape(app);
  const series = text.split('\n').filter((line) => line.startsWith('taskgate_unknown_upstream_status_total{'));
  assert.ok(series.length <= 51, `${series.length} series`);
  const total = series.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  assert.equal(total, 70, 'every occurrence is still counted');
});

test('control characters in upstream status words never reach /metrics: label values are printable and bounded', async (t) => {
  const { app, vtrix } = await startStack(t);
  const words = ['bad\u0000nul', 'esc\u001b[31mred', 'cr\rinjected 1', 'lf\nnext{x="y"} 9', '\u202eevil', 'x'.repeat(500), '\u{1F600}'.repeat(60)];
  for (const [index, word] of words.entries()) {
    vtrix.setTask(`task_ctl${index}`, { raw: { status: 200, body: { id: `task_ctl${index}`, status: word } } });
    const response = await app.inject({ url: `/tasks/vtrix:task_ctl${index}` });
    assert.equal(response.statusCode, 200);
    // The answer keeps the provider's word (JSON escapes it); only the label is cleaned.
    assert.equal(JSON.parse(response.body).provider_status, word);
  }
  const text = await scrape(app);
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/.test(text), 'no control character in the exposition');
  const series = text.split('\n').filter((line) => line.startsWith('taskgate_unknown_upstream_status_total{'));
  assert.equal(series.length, words.length, series.join('\n'));
  for (const line of series) {
    const label = /status="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? '';
    assert.ok(Array.from(label).length <= 40, `label of ${Array.from(label).length} characters`);
  }
  assert.equal(metricValue(text, 'taskgate_unknown_upstream_status_total', { provider: 'vtrix', status: 'bad_nul' }), 1);
  assert.equal(metricValue(text, 'taskgate_unknown_upstream_status_total', { provider: 'vtrix', status: 'cr_injected 1' }), 1);
  assert.equal(metricValue(text, 'taskgate_unknown_upstream_status_total', { provider: 'vtrix', status: '\u{1F600}'.repeat(40) }), 1);
});

test(
  'two gateways in one process count only their own unknown statuses',
  async (t) => {
    const vtrix = await startSimulator({ provider: 'vtrix', credentials: { apiKey: VTRIX_KEY } });
    const config = loadConfig({ VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: vtrix.url });
    const first = await buildApp(config, { logger: false });
    const second = await buildApp(config, { logger: false });
    t.after(async () => {
      await first.close();
      await second.close();
      await vtrix.close();
    });
    vtrix.setTask('task_weird02', { raw: { status: 200, body: { id: 'task_weird02', status: 'ODD' } } });
    assert.equal((await first.inject({ url: '/tasks/vtrix:task_weird02' })).statusCode, 200);
    assert.equal(metricValue(await scrape(first), 'taskgate_unknown_upstream_status_total', { provider: 'vtrix', status: 'odd' }), 1);
    assert.equal(metricValue(await scrape(second), 'taskgate_unknown_upstream_status_total', { provider: 'vtrix', status: 'odd' }), undefined);
  },
);

test('cache hits and misses, and coalesced lookups', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_m0301', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_m0301', { kind: 'latency', ms: 300 });
  const answers = await Promise.all(Array.from({ length: 5 }, () => app.inject({ url: '/tasks/vtrix:task_m0301' })));
  for (const answer of answers) assert.equal(answer.statusCode, 200);
  assert.equal(vtrix.hits('task_m0301'), 1, 'five concurrent requests, one upstream call');
  await app.inject({ url: '/tasks/vtrix:task_m0301' });
  await app.inject({ url: '/tasks/vtrix:task_m0301' });
  const text = await scrape(app);
  assert.equal(metricValue(text, 'taskgate_coalesced_requests_total'), 4);
  assert.equal(metricValue(text, 'taskgate_cache_lookups_total', { cache: 'terminal', result: 'miss' }), 1);
  assert.equal(metricValue(text, 'taskgate_cache_lookups_total', { cache: 'terminal', result: 'hit' }), 2);
  assert.equal(vtrix.hits('task_m0301'), 1);
});

test('active waiters and poll loops go up while clients wait and back to zero after', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_m0401', { variant: 'model', timeline: RUNNING });
  const waiting = Promise.all([
    app.inject({ url: '/tasks/vtrix:task_m0401?wait=1' }),
    app.inject({ url: '/tasks/vtrix:task_m0401?wait=1' }),
  ]);
  let text = '';
  const deadline = Date.now() + 800;
  while (Date.now() < deadline) {
    text = await scrape(app);
    if (metricValue(text, 'taskgate_active_waiters', { kind: 'wait' }) === 2) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(metricValue(text, 'taskgate_active_waiters', { kind: 'wait' }), 2);
  assert.equal(metricValue(text, 'taskgate_active_poll_loops'), 1, 'two waiters share one poll loop');
  for (const answer of await waiting) assert.equal(answer.statusCode, 200);
  text = await scrape(app);
  assert.equal(metricValue(text, 'taskgate_active_waiters', { kind: 'wait' }), 0);
  assert.equal(metricValue(text, 'taskgate_active_poll_loops'), 0);
});
