/**
 * Every upstream fault the gateway knows (docs/errors.md), at both seed providers, mapped to its exact
 * problem code, status, Retry-After and number of upstream attempts; then a thousand mixed
 * faulty requests after which the gateway still answers, each answer a Task or a Problem.
 * (test/routes/errors.test.ts has one example per error row; this is the full matrix.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { TaskSchema } from '../../schemas/task.js';
import type { Fault, Simulator } from '../../src/simulators/index.js';
import { json, startStack, type Stack } from '../helpers/stack.js';
import { listen } from '../helpers/http.js';
import { assertAnyProblem, assertProblem, header, isProblem } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
/** Circuit far away: this file is about what one lookup answers, not about the breaker. */
const NO_CIRCUIT = { CIRCUIT_FAILURE_THRESHOLD: '10000' };

interface FaultCase {
  name: string;
  fault: Fault;
  status: number;
  code: string;
  /** Upstream attempts for the lookup (1 = not retried). */
  hits: number;
  retryAfter?: string;
  only?: 'vtrix' | 'gravitex';
}

const PROVIDER_IDS = {
  vtrix: (suffix: string) => `task_f${suffix}`,
  gravitex: (suffix: string) => `video_f${suffix.padEnd(31, '0')}`,
} as const;

const WIRE_FAULTS: FaultCase[] = [
  ...[500, 502, 503, 504].map((status) => ({
    name: `HTTP ${status}, every time`,
    fault: { kind: 'status' as const, status },
    status: 502,
    code: 'upstream_error',
    hits: 3,
  })),
  { name: 'HTTP 501 (not retried)', fault: { kind: 'status', status: 501 }, status: 502, code: 'upstream_error', hits: 1 },
  { name: 'an unexpected 4xx', fault: { kind: 'status', status: 409 }, status: 502, code: 'upstream_error', hits: 1 },
  { name: 'our key refused (401)', fault: { kind: 'status', status: 401 }, status: 502, code: 'upstream_auth_failed', hits: 1 },
  { name: 'no balance / banned (403)', fault: { kind: 'status', status: 403 }, status: 502, code: 'upstream_auth_failed', hits: 1 },
  { name: 'connection reset, every time', fault: { kind: 'reset' }, status: 502, code: 'upstream_error', hits: 3 },
  { name: 'a truncated JSON body', fault: { kind: 'malformed' }, status: 502, code: 'upstream_invalid_response', hits: 1 },
  { name: 'an HTML challenge page with 200', fault: { kind: 'html', status: 200 }, status: 502, code: 'upstream_invalid_response', hits: 1 },
  { name: 'an nginx HTML 502 page', fault: { kind: 'html', status: 502 }, status: 502, code: 'upstream_error', hits: 3 },
  { name: 'a 2 MB body', fault: { kind: 'huge', bytes: 2 * 1024 * 1024 }, status: 502, code: 'upstream_invalid_response', hits: 1 },
  { name: 'a body one byte over the 1 MiB cap', fault: { kind: 'huge', bytes: 1024 * 1024 + 1 }, status: 502, code: 'upstream_invalid_response', hits: 1 },
  { name: '429 with Retry-After: 30', fault: { kind: 'rate_limit', retryAfter: 30 }, status: 503, code: 'upstream_rate_limited', hits: 1, retryAfter: '30' },
  { name: '429 without Retry-After', fault: { kind: 'rate_limit' }, status: 503, code: 'upstream_rate_limited', hits: 1, retryAfter: '5' },
  // Short 429s are retried quietly (upstreamRetries times, 1 s each): one provider is enough.
  { name: '429 with Retry-After: 1, every time', fault: { kind: 'rate_limit', retryAfter: 1 }, status: 503, code: 'upstream_rate_limited', hits: 3, retryAfter: '1', only: 'vtrix' },
];

function faultMatrix(provider: 'vtrix' | 'gravitex', stack: () => Stack) {
  WIRE_FAULTS.forEach((faultCase, index) => {
    if (faultCase.only !== undefined && faultCase.only !== provider) return;
    test(`${provider}: ${faultCase.name} → ${faultCase.status} ${faultCase.code}`, async () => {
      const { app, [provider]: simulator } = stack();
      const id = PROVIDER_IDS[provider](`${index}x${Date.now().toString(36)}`);
      simulator.setTask(id, { timeline: DONE });
      simulator.injectFault(id, { ...faultCase.fault, times: 100 });
      const response = await app.inject({ url: `/tasks/${provider}:${id}` });
      const problem = assertProblem(response, faultCase.status, faultCase.code, provider);
      assert.equal(simulator.hits(id), faultCase.hits, 'upstream attempts');
      if (faultCase.retryAfter !== undefined) assert.equal(header(response, 'retry-after'), faultCase.retryAfter);
      // Nothing of the upstream body reaches the client: no HTML, no JSON, no Chinese text.
      for (const fragment of ['<', '{', '负载', 'nginx', 'request id']) assert.ok(!problem.detail.includes(fragment), problem.detail);
    });
  });
}

describe('wire faults at each provider', () => {
  let stack: Stack | undefined;
  const closers: Array<() => Promise<void> | void> = [];
  before(async () => {
    stack = await startStack({ after: (fn: () => Promise<void> | void) => closers.push(fn) }, { env: NO_CIRCUIT });
  });
  after(async () => {
    for (const close of closers) await close();
  });
  const current = () => {
    assert.ok(stack, 'stack started');
    return stack;
  };
  faultMatrix('vtrix', current);
  faultMatrix('gravitex', current);
});

test("gravitex's Chinese \"capacity saturated\" 429 is upstream_rate_limited, and the text stays out", async (t) => {
  const { app, gravitex } = await startStack(t, { env: NO_CIRCUIT });
  const id = 'video_saturated0000000000000000000000000';
  gravitex.injectFault(id, { kind: 'rate_limit', times: 5 });
  const response = await app.inject({ url: `/tasks/${id}` });
  const problem = assertProblem(response, 503, 'upstream_rate_limited', 'gravitex');
  assert.equal(header(response, 'retry-after'), '5');
  assert.ok(!/[\u4e00-\u9fff]/.test(response.body), problem.detail);
});

test('a provider 429 with an HTTP-date Retry-After is passed on in seconds', async (t) => {
  const { app, vtrix } = await startStack(t, { env: NO_CIRCUIT });
  const until = new Date(Date.now() + 40_000).toUTCString();
  vtrix.setTask('task_fdate01', { raw: { status: 429, body: { error: { code: 1002, message: 'rate limited' } }, headers: { 'Retry-After': until } } });
  const response = await app.inject({ url: '/tasks/vtrix:task_fdate01' });
  assertProblem(response, 503, 'upstream_rate_limited', 'vtrix');
  const seconds = Number(header(response, 'retry-after'));
  assert.ok(seconds >= 38 && seconds <= 41, `Retry-After ${seconds}`);
});

test("not-found shapes: vtrix 404 / 422 'does not exist', gravitex 400 task_not_exist and its documented 404", async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, { env: NO_CIRCUIT });
  vtrix.setTask('task_fnf0001', { raw: { status: 422, body: { error: { code: 'task_not_found', message: 'task does not exist' } } } });
  gravitex.setTask('video_fnf00000000000000000000000000000', {
    raw: { status: 404, body: { error: { message: 'task not found', type: 'invalid_request_error', param: 'task_id', code: 'task_not_found' } } },
  });
  assertProblem(await app.inject({ url: '/tasks/vtrix:task_fnf0001' }), 404, 'task_not_found', 'vtrix');
  assertProblem(await app.inject({ url: '/tasks/vtrix:task_missing77' }), 404, 'task_not_found', 'vtrix');
  // Qualified: a bare video_ id is asked of openai too, and "nobody has it" names no provider.
  assertProblem(await app.inject({ url: '/tasks/gravitex:video_fnf00000000000000000000000000000' }), 404, 'task_not_found', 'gravitex');
  assertProblem(await app.inject({ url: '/tasks/gravitex:video_missing0000000000000000000000000000' }), 404, 'task_not_found', 'gravitex');
  // A 400 that does not say "no such task" is not a 404.
  vtrix.setTask('task_fnf0002', { raw: { status: 400, body: { message: 'bad request' } } });
  assertProblem(await app.inject({ url: '/tasks/vtrix:task_fnf0002' }), 502, 'upstream_error', 'vtrix');
});

test('2xx bodies that are not a task are upstream_invalid_response', async (t) => {
  const { app, vtrix } = await startStack(t, { env: NO_CIRCUIT });
  const bodies: unknown[] = [[], 'just a string', { data: null }, { id: 'x', status: 42 }, ''];
  for (const [index, body] of bodies.entries()) {
    const id = `task_fbody${index}`;
    vtrix.setTask(id, { raw: { status: 200, body: body as string } });
    assertProblem(await app.inject({ url: `/tasks/vtrix:${id}` }), 502, 'upstream_invalid_response', 'vtrix');
    assert.equal(vtrix.hits(id), 1, 'a bad body is not retried');
  }
});

describe('time faults (UPSTREAM_TIMEOUT_MS=400)', () => {
  const TIME_ENV = { ...NO_CIRCUIT, UPSTREAM_TIMEOUT_MS: '400' };

  test('a provider that never answers, one that answers too late, and a body that drips too slowly → 504', async (t) => {
    const { app, vtrix, gravitex } = await startStack(t, { env: TIME_ENV });
    const cases: Array<[Simulator, string, Fault]> = [
      [vtrix, 'task_ftime01', { kind: 'hang' }],
      [gravitex, 'video_ftime0100000000000000000000000000', { kind: 'hang' }],
      [vtrix, 'task_ftime02', { kind: 'latency', ms: 3000 }],
      [vtrix, 'task_ftime03', { kind: 'slow_drip', ms: 3000 }],
      [gravitex, 'video_ftime0300000000000000000000000000', { kind: 'slow_drip', ms: 3000 }],
    ];
    await Promise.all(
      cases.map(async ([simulator, id, fault]) => {
        simulator.setTask(id, { timeline: DONE });
        simulator.injectFault(id, { ...fault, times: 10 });
        const started = Date.now();
        const response = await app.inject({ url: `/tasks/${simulator.provider}:${id}` });
        assertProblem(response, 504, 'upstream_timeout', simulator.provider);
        assert.equal(simulator.hits(id), 1, 'the deadline covers the whole lookup: no retry after a timeout');
        assert.ok(Date.now() - started < 2500, `${id} took ${Date.now() - started} ms`);
      }),
    );
  });

  test('latency and a slow drip inside the budget are fine', async (t) => {
    // 150 ms of latency against 3 s: inside the budget however loaded the machine is.
    const { app, vtrix, gravitex } = await startStack(t, { env: { ...NO_CIRCUIT, UPSTREAM_TIMEOUT_MS: '3000' } });
    vtrix.setTask('task_ftime11', { variant: 'model', timeline: DONE });
    vtrix.injectFault('task_ftime11', { kind: 'latency', ms: 150 });
    gravitex.setTask('video_ftime1100000000000000000000000000', { variant: 'wrapped', timeline: DONE });
    gravitex.injectFault('video_ftime1100000000000000000000000000', { kind: 'slow_drip', ms: 150 });
    for (const url of ['/tasks/vtrix:task_ftime11', '/tasks/video_ftime1100000000000000000000000000']) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(TaskSchema.parse(json(response)).status, 'succeeded');
    }
  });

  test(
    'a hanging provider is cut off at UPSTREAM_TIMEOUT_MS, not up to a second later',
    async (t) => {
      const { app, vtrix } = await startStack(t, { env: { ...NO_CIRCUIT, UPSTREAM_TIMEOUT_MS: '200' } });
      vtrix.injectFault('task_ftime21', { kind: 'hang' });
      const started = Date.now();
      assertProblem(await app.inject({ url: '/tasks/vtrix:task_ftime21' }), 504, 'upstream_timeout');
      const elapsed = Date.now() - started;
      // Coarse on purpose (a loaded machine is slow): undici's own timers tick about once a
      // second, so a deadline left to them would end near 1 s or later, not within 900 ms.
      assert.ok(elapsed < 900, `a 200 ms budget took ${elapsed} ms`);
      assert.equal(vtrix.hits('task_ftime21'), 1);
    },
  );
});

test('ambiguous id: not found at vtrix and failing at gravitex is the failure, not a 404', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, { env: NO_CIRCUIT });
  // task_ + 32 alphanumerics: the vtrix simulator has no such task, gravitex would.
  const id = `task_${'Ambiguous'.padEnd(32, '0')}`;
  gravitex.injectFault(id, { kind: 'status', status: 500, times: 10 });
  const response = await app.inject({ url: `/tasks/${id}` });
  assertProblem(response, 502, 'upstream_error', 'gravitex');
  assert.ok(vtrix.hits(id) >= 1 && gravitex.hits(id) === 3);
});

/** Faults for the mixed run, with how many requests in 100 get each. */
const MIX: Array<[number, Fault | 'ok' | 'running' | 'missing' | 'weird' | 'bad-id']> = [
  [20, 'ok'],
  [10, 'running'],
  [8, 'missing'],
  [4, 'weird'],
  [6, 'bad-id'],
  [8, { kind: 'status', status: 500 }],
  [6, { kind: 'status', status: 503, times: 1 }],
  [4, { kind: 'status', status: 401 }],
  [6, { kind: 'reset' }],
  [6, { kind: 'malformed' }],
  [4, { kind: 'html', status: 200 }],
  [4, { kind: 'html', status: 502 }],
  [4, { kind: 'rate_limit', retryAfter: 20 }],
  [3, { kind: 'rate_limit' }],
  [3, { kind: 'huge', bytes: 1200 * 1024 }],
  [2, { kind: 'hang' }],
  [2, { kind: 'slow_drip', ms: 2000 }],
];

function pickMix(index: number): (typeof MIX)[number][1] {
  let slot = (index * 37) % 100;
  for (const [weight, kind] of MIX) {
    if (slot < weight) return kind;
    slot -= weight;
  }
  return 'ok';
}

test('1,000 mixed faulty requests: every answer is a Task or a Problem, and the gateway still answers', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, {
    env: { UPSTREAM_TIMEOUT_MS: '250', CIRCUIT_FAILURE_THRESHOLD: '25', CIRCUIT_OPEN_MS: '300' },
  });
  const url = await listen(app);
  const pool = new Pool(url, { connections: 32 });
  t.after(() => pool.close());
  const total = 1000;
  const seen = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const kind = pickMix(index);
      const gravitexSide = index % 3 === 0;
      const simulator = gravitexSide ? gravitex : vtrix;
      let path: string;
      if (kind === 'bad-id') {
        path = `/tasks/${['..%2F', 'a%00b', 'x'.repeat(250), '%E4%BB%BB', 'vtrix:'][index % 5]}`;
      } else {
        const id = gravitexSide ? `video_soak${String(index).padStart(28, '0')}` : `task_soak${index}`;
        if (kind === 'ok') simulator.setTask(id, { timeline: DONE });
        else if (kind === 'running') simulator.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 50 }] });
        else if (kind === 'missing') simulator.setTask(id, { missing: true });
        else if (kind === 'weird') simulator.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', providerStatus: `weird_${index % 7}` }] });
        else {
          simulator.setTask(id, { timeline: DONE });
          simulator.injectFault(id, { times: 3, ...kind });
        }
        path = `/tasks/${simulator.provider}:${id}`;
      }
      const response = await pool.request({ path, method: 'GET' });
      const body = await response.body.text();
      const answer = { statusCode: response.statusCode, headers: response.headers, body };
      if (response.statusCode === 200) {
        assert.match(String(response.headers['content-type']), /^application\/json/);
        TaskSchema.parse(JSON.parse(body));
        seen.set('200 task', (seen.get('200 task') ?? 0) + 1);
      } else {
        const problem = assertAnyProblem(answer);
        seen.set(`${response.statusCode} ${problem.code}`, (seen.get(`${response.statusCode} ${problem.code}`) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));

  const outcomes = [...seen.keys()];
  for (const expected of ['200 task', '404 task_not_found', '400 invalid_task_id', '502 upstream_error', '502 upstream_invalid_response', '503 upstream_rate_limited']) {
    assert.ok(outcomes.includes(expected), `${expected} in ${outcomes.join(', ')}`);
  }
  assert.equal([...seen.values()].reduce((sum, count) => sum + count, 0), total);

  const health = await app.inject({ url: '/healthz' });
  assert.equal(health.statusCode, 200);
  assert.ok(!isProblem(health));
  const sizes = app.taskService.lookup.sizes;
  assert.equal(sizes.inFlight, 0, 'no lookup is left hanging');
  assert.equal(app.taskService.watcher.pollLoops, 0);
});
