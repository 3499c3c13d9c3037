/**
 * The per-provider circuit breaker: a run of failed lookups opens it, an open circuit
 * answers 503 provider_unavailable without touching the provider, one probe goes through
 * after CIRCUIT_OPEN_MS, and answers about the task (not found, auth, 429, bad bodies)
 * never count as the provider being down.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { startSimulator } from '../../src/simulators/index.js';
import { CircuitBreaker, type CircuitState } from '../../src/upstream/breaker.js';
import { json, startStack, VTRIX_KEY } from '../helpers/stack.js';
import { assertProblem, header, metricValue } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const OPEN_MS = 600;
const CIRCUIT_ENV = { CIRCUIT_FAILURE_THRESHOLD: '2', CIRCUIT_OPEN_MS: String(OPEN_MS) };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function breakerWithClock(failureThreshold = 3, openMs = 30_000) {
  let now = 1_000_000;
  const transitions: CircuitState[] = [];
  const breaker = new CircuitBreaker({
    provider: 'vtrix',
    failureThreshold,
    openMs,
    now: () => now,
    onStateChange: (provider, state) => {
      assert.equal(provider, 'vtrix');
      transitions.push(state);
    },
  });
  return { breaker, transitions, advance: (ms: number) => (now += ms) };
}

function refusal(breaker: CircuitBreaker): GatewayError {
  try {
    breaker.acquire();
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    return error;
  }
  assert.fail('acquire() let the call through');
}

describe('CircuitBreaker', () => {
  test('stays closed below the threshold, and a success resets the run', () => {
    const { breaker, transitions } = breakerWithClock(3);
    for (let round = 0; round < 5; round++) {
      breaker.acquire();
      breaker.recordFailure();
      breaker.acquire();
      breaker.recordFailure();
      breaker.acquire();
      breaker.recordSuccess();
    }
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(transitions, []);
  });

  test('opens after `failureThreshold` consecutive failures and refuses with Retry-After', () => {
    const { breaker, transitions, advance } = breakerWithClock(3, 30_000);
    for (let index = 0; index < 3; index++) {
      breaker.acquire();
      breaker.recordFailure();
    }
    assert.equal(breaker.state, 'open');
    assert.deepEqual(transitions, ['open']);
    const error = refusal(breaker);
    assert.equal(error.code, 'provider_unavailable');
    assert.equal(error.status, 503);
    assert.equal(error.provider, 'vtrix');
    assert.equal(error.retryAfter, 30);
    advance(10_500);
    assert.equal(refusal(breaker).retryAfter, 20, 'Retry-After counts down to the probe');
    advance(19_000);
    assert.equal(refusal(breaker).retryAfter, 1, 'never below one second');
  });

  test('after openMs exactly one probe goes through; its success closes the circuit', () => {
    const { breaker, transitions, advance } = breakerWithClock(1, 5000);
    breaker.acquire();
    breaker.recordFailure();
    advance(4999);
    refusal(breaker);
    advance(1);
    breaker.acquire(); // the probe
    assert.equal(breaker.state, 'half_open');
    const second = refusal(breaker);
    assert.equal(second.code, 'provider_unavailable');
    assert.equal(second.retryAfter, 1);
    breaker.recordSuccess();
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(transitions, ['open', 'half_open', 'closed']);
    breaker.acquire();
    breaker.acquire();
  });

  test('a failed probe reopens the circuit for a full openMs', () => {
    const { breaker, transitions, advance } = breakerWithClock(2, 5000);
    for (let index = 0; index < 2; index++) {
      breaker.acquire();
      breaker.recordFailure();
    }
    advance(5000);
    breaker.acquire();
    breaker.recordFailure();
    assert.equal(breaker.state, 'open');
    assert.equal(refusal(breaker).retryAfter, 5);
    advance(4999);
    refusal(breaker);
    advance(1);
    breaker.acquire();
    assert.deepEqual(transitions, ['open', 'half_open', 'open', 'half_open']);
  });

  test('a late failure of a call started before the circuit opened does not restart the open period', () => {
    const { breaker, advance } = breakerWithClock(1, 5000);
    breaker.acquire();
    breaker.acquire();
    breaker.recordFailure(); // opens
    advance(3000);
    breaker.recordFailure(); // the slow second call finally fails
    advance(2000);
    breaker.acquire(); // the probe is still due at openMs after the first failure
    assert.equal(breaker.state, 'half_open');
  });
});

describe('circuit breaker through the gateway', () => {
  test('two failing lookups open the circuit: 503 provider_unavailable, and the provider is not asked', async (t) => {
    const { app, vtrix, gravitex } = await startStack(t, { env: CIRCUIT_ENV });
    vtrix.injectFault('task_cb0001', { kind: 'status', status: 500, times: 100 });
    for (let index = 0; index < 2; index++) {
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0001' }), 502, 'upstream_error', 'vtrix');
    }
    const hits = vtrix.hits();
    assert.equal(hits, 6, 'two lookups of three attempts each');

    for (const url of ['/tasks/vtrix:task_cb0001', '/tasks/vtrix:task_cb0002', '/tasks/d758n65e878c73cmdg20', '/tasks/vtrix:task_cb0003?wait=10']) {
      const response = await app.inject({ url });
      assertProblem(response, 503, 'provider_unavailable', 'vtrix');
      const retryAfter = Number(header(response, 'retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= Math.ceil(OPEN_MS / 1000), `Retry-After ${retryAfter}`);
    }
    assert.equal(vtrix.hits(), hits, 'an open circuit does not touch the provider');

    const ready = json<{ providers: Record<string, { circuit: string }> }>(await app.inject({ url: '/readyz' }));
    assert.equal(ready.providers.vtrix?.circuit, 'open');
    assert.equal(ready.providers.gravitex?.circuit, 'closed');
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.equal(metricValue(metrics, 'taskgate_circuit_state', { provider: 'vtrix' }), 2);
    assert.equal(metricValue(metrics, 'taskgate_circuit_state', { provider: 'gravitex' }), 0);

    // The other provider is unaffected.
    const other = await app.inject({ url: '/tasks/video_69095b4ce0048190893a01510c0c98b0' });
    assert.equal(other.statusCode, 200);
    assert.ok(gravitex.hits() >= 1);
  });

  test('after CIRCUIT_OPEN_MS one probe goes through while others are still refused; its success closes', async (t) => {
    const { app, vtrix } = await startStack(t, { env: CIRCUIT_ENV });
    vtrix.injectFault('task_cb0101', { kind: 'status', status: 503, times: 100 });
    for (let index = 0; index < 2; index++) await app.inject({ url: '/tasks/vtrix:task_cb0101' });
    assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0101' }), 503, 'provider_unavailable');
    await sleep(OPEN_MS + 50);

    vtrix.setTask('task_cb0102', { variant: 'model', timeline: DONE });
    // The probe stays in flight for 3 s: what follows happens while it does, however slow the machine.
    vtrix.injectFault('task_cb0102', { kind: 'latency', ms: 3000 });
    vtrix.setTask('task_cb0103', { variant: 'model', timeline: DONE });
    const probe = app.inject({ url: '/tasks/vtrix:task_cb0102' });
    await sleep(100);
    const ready = json<{ providers: Record<string, { circuit: string }> }>(await app.inject({ url: '/readyz' }));
    assert.equal(ready.providers.vtrix?.circuit, 'half_open');
    assert.equal(metricValue((await app.inject({ url: '/metrics' })).body, 'taskgate_circuit_state', { provider: 'vtrix' }), 1);
    const refused = await app.inject({ url: '/tasks/vtrix:task_cb0103' });
    assertProblem(refused, 503, 'provider_unavailable', 'vtrix');
    assert.equal(header(refused, 'retry-after'), '1');
    assert.equal(vtrix.hits('task_cb0103'), 0, 'only the probe reaches the provider');

    const probed = await probe;
    assert.equal(probed.statusCode, 200, probed.body);
    assert.equal(vtrix.hits('task_cb0102'), 1);
    const after = await app.inject({ url: '/tasks/vtrix:task_cb0103' });
    assert.equal(after.statusCode, 200);
    const readyAfter = json<{ providers: Record<string, { circuit: string }> }>(await app.inject({ url: '/readyz' }));
    assert.equal(readyAfter.providers.vtrix?.circuit, 'closed');
  });

  test('once CIRCUIT_OPEN_MS has passed, the gauge and /readyz say half-open without waiting for a request', async (t) => {
    const { app, vtrix } = await startStack(t, { env: CIRCUIT_ENV });
    vtrix.injectFault('task_cb0151', { kind: 'status', status: 500, times: 100 });
    for (let index = 0; index < 2; index++) await app.inject({ url: '/tasks/vtrix:task_cb0151' });
    assert.equal(metricValue((await app.inject({ url: '/metrics' })).body, 'taskgate_circuit_state', { provider: 'vtrix' }), 2);
    await sleep(OPEN_MS + 50);
    const hits = vtrix.hits();
    // The scrape first: the gauge must not depend on /readyz (or a lookup) having looked.
    assert.equal(metricValue((await app.inject({ url: '/metrics' })).body, 'taskgate_circuit_state', { provider: 'vtrix' }), 1);
    const ready = json<{ providers: Record<string, { circuit: string }> }>(await app.inject({ url: '/readyz' }));
    assert.equal(ready.providers.vtrix?.circuit, 'half_open');
    assert.equal(vtrix.hits(), hits, 'reporting the state sends no probe');
  });

  test('a failed probe reopens the circuit', async (t) => {
    const { app, vtrix } = await startStack(t, { env: CIRCUIT_ENV });
    vtrix.injectFault('task_cb0201', { kind: 'status', status: 500, times: 100 });
    for (let index = 0; index < 2; index++) await app.inject({ url: '/tasks/vtrix:task_cb0201' });
    await sleep(OPEN_MS + 50);
    const hitsBefore = vtrix.hits();
    assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0201' }), 502, 'upstream_error', 'vtrix');
    assert.equal(vtrix.hits() - hitsBefore, 3, 'the probe is one lookup (with its retries)');
    const refused = await app.inject({ url: '/tasks/vtrix:task_cb0201' });
    assertProblem(refused, 503, 'provider_unavailable', 'vtrix');
    assert.equal(header(refused, 'retry-after'), String(Math.ceil(OPEN_MS / 1000)));
    assert.equal(vtrix.hits() - hitsBefore, 3);
  });

  test('timeouts open the circuit too', async (t) => {
    const { app, vtrix } = await startStack(t, { env: { ...CIRCUIT_ENV, UPSTREAM_TIMEOUT_MS: '150' } });
    vtrix.injectFault('task_cb0301', { kind: 'hang', times: 10 });
    for (let index = 0; index < 2; index++) {
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0301' }), 504, 'upstream_timeout', 'vtrix');
    }
    assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0301' }), 503, 'provider_unavailable', 'vtrix');
  });

  test('answers about the task (not found, our key refused, 429, bad bodies) never open the circuit', async (t) => {
    const { app, vtrix } = await startStack(t, { env: CIRCUIT_ENV });
    for (let index = 0; index < 4; index++) {
      assertProblem(await app.inject({ url: `/tasks/vtrix:task_missing${index}` }), 404, 'task_not_found');
    }
    vtrix.injectFault('task_cb0401', { kind: 'status', status: 403, times: 4 });
    vtrix.injectFault('task_cb0402', { kind: 'rate_limit', retryAfter: 30, times: 4 });
    vtrix.injectFault('task_cb0403', { kind: 'malformed', times: 4 });
    vtrix.injectFault('task_cb0404', { kind: 'html', status: 200, times: 4 });
    for (let index = 0; index < 3; index++) {
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0401' }), 502, 'upstream_auth_failed');
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0402' }), 503, 'upstream_rate_limited');
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0403' }), 502, 'upstream_invalid_response');
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0404' }), 502, 'upstream_invalid_response');
    }
    const ready = json<{ providers: Record<string, { circuit: string }> }>(await app.inject({ url: '/readyz' }));
    assert.equal(ready.providers.vtrix?.circuit, 'closed');
    vtrix.setTask('task_cb0405', { variant: 'model', timeline: DONE });
    assert.equal((await app.inject({ url: '/tasks/vtrix:task_cb0405' })).statusCode, 200);
  });

  test('a success between failures resets the run', async (t) => {
    const { app, vtrix } = await startStack(t, { env: CIRCUIT_ENV });
    vtrix.injectFault('task_cb0501', { kind: 'status', status: 500, times: 100 });
    for (let round = 0; round < 3; round++) {
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0501' }), 502, 'upstream_error');
      // A fresh id, so the success really comes from upstream and not from a cache.
      vtrix.setTask(`task_cb051${round}`, { variant: 'model', timeline: DONE });
      assert.equal((await app.inject({ url: `/tasks/vtrix:task_cb051${round}` })).statusCode, 200);
    }
    assertProblem(await app.inject({ url: '/tasks/vtrix:task_cb0501' }), 502, 'upstream_error');
  });

  test(
    'circuit transitions are logged',
    async (t) => {
      const vtrix = await startSimulator({ provider: 'vtrix', credentials: { apiKey: VTRIX_KEY } });
      const lines: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
          done();
        },
      });
      const config = loadConfig({ VTRIX_API_KEY: VTRIX_KEY, VTRIX_BASE_URL: vtrix.url, ...CIRCUIT_ENV });
      const app = await buildApp(config, { logger: { level: 'info', stream } });
      t.after(async () => {
        await app.close();
        await vtrix.close();
      });
      // Each request makes 3 attempts (2 retries): 6 failing answers open the circuit after two requests.
      vtrix.injectFault('task_cb0601', { kind: 'status', status: 500, times: 6 });
      vtrix.setTask('task_cb0601', { variant: 'model', timeline: DONE });
      for (let index = 0; index < 2; index++) await app.inject({ url: '/tasks/vtrix:task_cb0601' });
      await sleep(OPEN_MS + 50);
      // The probe: the provider is well again, so the circuit closes.
      assert.equal((await app.inject({ url: '/tasks/vtrix:task_cb0601' })).statusCode, 200);
      const transitions = lines
        .map((line) => JSON.parse(line) as { level: number; msg: string; provider?: string; circuit?: string })
        .filter((entry) => entry.circuit !== undefined && entry.provider === 'vtrix');
      // pino levels: 30 info, 40 warn. The initial state is reported once, as closed.
      assert.deepEqual(
        transitions.map(({ level, circuit, msg }) => ({ level, circuit, msg })),
        [
          { level: 30, circuit: 'closed', msg: 'vtrix circuit closed' },
          { level: 40, circuit: 'open', msg: 'vtrix circuit open' },
          { level: 40, circuit: 'half_open', msg: 'vtrix circuit half-open' },
          { level: 30, circuit: 'closed', msg: 'vtrix circuit closed' },
        ],
        lines.join('\n'),
      );
    },
  );
});
