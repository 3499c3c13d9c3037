import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import type { InterpretContext } from '../../src/providers/define.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_WITHOUT_DETAILS } from '../../src/providers/normalize.js';
import { EXPIRED_MESSAGE } from '../../src/providers/openrouter/map.js';
import { openrouter } from '../../src/providers/openrouter/index.js';
import type { TaskState } from '../../src/providers/types.js';
import { Router } from '../../src/routing.js';
import { adapterHarness, answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = 'job-abc123';
const BASE_URL = 'https://openrouter.ai';
const KEY = 'sk-or-v1-test-3c7e';
const context: InterpretContext = { nativeId: ID, baseUrl: BASE_URL };
const content = (id: string, index: number, base = BASE_URL) => `${base}/api/v1/videos/${id}/content?index=${index}`;

const { fixture, assertThrowsCode } = adapterHarness(openrouter, context);
const interpret = (name: string, nativeId = ID): TaskState => openrouter.interpret(answer(200, fixture(name)), { ...context, nativeId });

function routerOf(): Router {
  const config = loadConfig({});
  return new Router(config.routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
}

describe('openrouter definition', () => {
  it('reads OPENROUTER_API_KEY (setting apiKey), defaults to https://openrouter.ai and polls every 10 s', () => {
    assert.equal(openrouter.name, 'openrouter');
    assert.deepEqual(openrouter.credentials, [{ setting: 'apiKey', env: 'OPENROUTER_API_KEY', secret: true }]);
    assert.equal(openrouter.defaultBaseUrl, 'https://openrouter.ai');
    assert.equal(openrouter.cadenceMs, 10_000);
    assert.deepEqual(openrouter.statuses, {
      queued: ['pending'],
      in_progress: ['in_progress'],
      succeeded: ['completed'],
      failed: ['failed', 'expired'],
      canceled: ['cancelled'],
    });
  });

  it('claims no id in the default table: an openrouter id is always qualified', () => {
    assert.deepEqual(openrouter.idRules, []);
    const router = routerOf();
    assert.deepEqual(router.resolve(`openrouter:${ID}`).candidates, [{ provider: 'openrouter', nativeId: ID }]);
    assert.throws(() => router.resolve(ID), (error) => error instanceof GatewayError && error.code === 'no_provider_for_task_id');
  });

  it('takes any one path segment as a job id, never a dot-segment or a slash', () => {
    for (const id of [ID, 'abc123', 'gen-1767225600-Qm3x', 'job.v2_7', 'a'.repeat(512)]) assert.ok(openrouter.nativeIds.pattern.test(id), id);
    for (const id of ['', '.', '..', 'a/b', 'a b', 'a%2Fb', 'a?b', 'a#b', 'a'.repeat(513)]) assert.ok(!openrouter.nativeIds.pattern.test(id), id);
    assert.equal(openrouter.nativeIds.example, ID);
    assert.throws(
      () => routerOf().resolve('openrouter:jobs/a1'),
      (error) => error instanceof GatewayError && error.code === 'invalid_task_id' && error.detail.includes('a openrouter task id is one path segment'),
    );
  });

  it('asks GET {base}/api/v1/videos/{id} once, with the key as a Bearer token and nothing else', async () => {
    const { requests } = await runLookup(openrouter, ID, () => answer(200, fixture('pending')), { credentials: { apiKey: KEY } });
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request?.method ?? 'GET', 'GET');
    assert.equal(request?.url, `${BASE_URL}/api/v1/videos/${ID}`);
    assert.equal(request?.template, '/api/v1/videos/{id}');
    assert.deepEqual(request?.headers, { authorization: `Bearer ${KEY}` });
    assert.deepEqual([request?.query, request?.json, request?.form], [undefined, undefined, undefined]);
  });

  it("keeps a base URL's path and URL-encodes the id into one segment", async () => {
    const { requests } = await runLookup(openrouter, 'job:1@x', () => answer(200, fixture('pending')), { baseUrl: 'https://proxy.example/openrouter' });
    assert.equal(requests[0]?.url, 'https://proxy.example/openrouter/api/v1/videos/job%3A1%40x');
    assert.equal(openrouter.taskPath('a/b c'), '/api/v1/videos/a%2Fb%20c');
  });
});

describe('openrouter status words', () => {
  it('pending: queued, nothing else known (no progress, model or times)', () => {
    assert.deepEqual(interpret('pending'), {
      provider_task_id: ID,
      status: 'queued',
      provider_status: 'pending',
      progress: null,
      url: null,
      outputs: [],
      error: null,
      model: null,
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('in_progress: in_progress', () => {
    const state = interpret('in-progress');
    assert.deepEqual([state.status, state.provider_status, state.progress, state.outputs], ['in_progress', 'in_progress', null, []]);
  });

  it('cancelled: canceled, with no error and no files', () => {
    const state = interpret('cancelled', 'job-can001');
    assert.deepEqual([state.provider_task_id, state.status, state.provider_status, state.error, state.url], ['job-can001', 'canceled', 'cancelled', null, null]);
  });

  it('words in any case; a word outside the table is in_progress, kept as said', () => {
    const cases: Array<[string, TaskState['status']]> = [
      ['PENDING', 'queued'],
      ['In_Progress', 'in_progress'],
      ['Cancelled', 'canceled'],
      ['EXPIRED', 'failed'],
      ['uploading', 'in_progress'],
    ];
    for (const [word, status] of cases) {
      const state = openrouter.interpret(answer(200, { id: ID, status: word }), context);
      assert.deepEqual([state.status, state.provider_status], [status, word], word);
    }
    const completed = openrouter.interpret(answer(200, { id: ID, status: 'COMPLETED', unsigned_urls: [content(ID, 0)] }), context);
    assert.equal(completed.status, 'succeeded');
  });

  it('the id asked for stands in when the body names none', () => {
    assert.equal(openrouter.interpret(answer(200, { status: 'pending' }), { ...context, nativeId: 'job-x' }).provider_task_id, 'job-x');
  });
});

describe('openrouter results', () => {
  it('completed (the documented example): its one unsigned URL, a video on OpenRouter\'s own origin', () => {
    assert.deepEqual(interpret('completed'), {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: content(ID, 0),
      outputs: [{ type: 'video', url: content(ID, 0) }],
      error: null,
      model: null,
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('completed with two unsigned URLs: two videos in order, url the first', () => {
    const state = interpret('completed-two-urls', 'job-2v9kq4');
    assert.deepEqual(state.outputs, [
      { type: 'video', url: content('job-2v9kq4', 0) },
      { type: 'video', url: content('job-2v9kq4', 1) },
    ]);
    assert.equal(state.url, content('job-2v9kq4', 0));
  });

  it('a root-relative link is placed under the base URL, its path kept; other entries that are no http(s) URL are skipped', () => {
    const body = { id: ID, status: 'completed', unsigned_urls: [`/api/v1/videos/${ID}/content?index=0`, 42, '', 'ftp://files.example/x.mp4', 'see the dashboard', content(ID, 1)] };
    const proxied = openrouter.interpret(answer(200, body), { nativeId: ID, baseUrl: 'https://proxy.example/openrouter/' });
    assert.deepEqual(proxied.outputs, [
      { type: 'video', url: content(ID, 0, 'https://proxy.example/openrouter') },
      { type: 'video', url: content(ID, 1) },
    ]);
  });

  it('a lone string in place of the list is taken too', () => {
    const state = openrouter.interpret(answer(200, { id: ID, status: 'completed', unsigned_urls: content(ID, 0) }), context);
    assert.deepEqual(state.outputs, [{ type: 'video', url: content(ID, 0) }]);
  });

  it('links on a job that is not completed are not outputs', () => {
    const state = openrouter.interpret(answer(200, { id: ID, status: 'in_progress', unsigned_urls: [content(ID, 0)] }), context);
    assert.deepEqual([state.url, state.outputs], [null, []]);
  });

  it('completed without a usable file → upstream_invalid_response', () => {
    for (const unsigned_urls of [undefined, null, [], [''], ['not a url'], { 0: 'x' }]) {
      assertThrowsCode(answer(200, { id: ID, status: 'completed', unsigned_urls }), 'upstream_invalid_response');
    }
  });
});

describe('openrouter failures', () => {
  it('failed with error a string: {code: task_failed, message: the string}', () => {
    const state = interpret('failed-error-string', 'job-fail001');
    assert.deepEqual([state.status, state.provider_status, state.url, state.outputs], ['failed', 'failed', null, []]);
    assert.deepEqual(state.error, { code: 'task_failed', message: 'The video provider rejected the request: the prompt was flagged by its content policy.' });
  });

  it('failed with error an object: its code and message', () => {
    assert.deepEqual(interpret('failed-error-object', 'job-fail002').error, {
      code: 'content_policy_violation',
      message: "The generated video was blocked by the provider's safety system.",
    });
    const numeric = openrouter.interpret(answer(200, { id: ID, status: 'failed', error: { code: 502, message: 'Provider returned error' } }), context);
    assert.deepEqual(numeric.error, { code: '502', message: 'Provider returned error' });
  });

  it('failed without an error (or with one of another shape): the generic task_failed', () => {
    assert.deepEqual(interpret('failed-no-error', 'job-fail003').error, FAILURE_WITHOUT_DETAILS);
    for (const error of ['', '  ', 7, [], { detail: 'x' }]) {
      const state = openrouter.interpret(answer(200, { id: ID, status: 'failed', error }), context);
      assert.deepEqual([state.status, state.error], ['failed', FAILURE_WITHOUT_DETAILS], JSON.stringify(error));
    }
  });

  it('expired without an error: failed, {code: task_failed, message: it expired}', () => {
    const state = interpret('expired', 'job-exp001');
    assert.deepEqual([state.status, state.provider_status, state.error], ['failed', 'expired', { code: 'task_failed', message: EXPIRED_MESSAGE }]);
    assert.match(EXPIRED_MESSAGE, /^[A-Z].*expired.*\.$/);
  });

  it('expired with an error: the error as given', () => {
    assert.deepEqual(interpret('expired-with-error', 'job-exp002').error, { code: 'task_failed', message: 'Job timed out waiting for the video provider.' });
  });

  it('an error on a job that did not fail is not shown', () => {
    const state = openrouter.interpret(answer(200, { id: ID, status: 'in_progress', error: 'transient' }), context);
    assert.equal(state.error, null);
  });
});

describe('openrouter errors', () => {
  it('404 → task_not_found', () => {
    const error = assertThrowsCode(answer(404, fixture('error-404')), 'task_not_found');
    assert.equal(error.detail, 'openrouter has no task with this id');
  });

  it('401 (an unknown key, or none) and 403 → upstream_auth_failed, the body kept out of the detail', () => {
    for (const name of ['error-401', 'error-401-no-credentials']) {
      const error = assertThrowsCode(answer(401, fixture(name)), 'upstream_auth_failed');
      assert.equal(error.detail, "openrouter rejected the gateway's credentials (HTTP 401)");
    }
    assertThrowsCode(answer(403, { error: { code: 403, message: 'Forbidden' } }), 'upstream_auth_failed');
  });

  it('429 → upstream_rate_limited with its Retry-After, or 5 s without one', () => {
    assert.equal(assertThrowsCode(answer(429, fixture('error-429'), { 'retry-after': '12' }), 'upstream_rate_limited').retryAfter, 12);
    assert.equal(assertThrowsCode(answer(429, fixture('error-429')), 'upstream_rate_limited').retryAfter, 5);
  });

  it('500, 502, 400 and 402 → upstream_error', () => {
    for (const status of [500, 502, 400, 402]) {
      const error = assertThrowsCode(answer(status, status === 500 ? fixture('error-500') : { error: { code: status, message: 'x' } }), 'upstream_error');
      assert.equal(error.detail, `openrouter answered HTTP ${status}`);
    }
  });

  it("OpenRouter's error envelope in an HTTP 200 is no job's failure: its code decides", async () => {
    const cases: Array<[unknown, string]> = [
      [{ code: 401, message: 'User not found.' }, 'upstream_auth_failed'],
      [{ code: '403', message: 'Forbidden' }, 'upstream_auth_failed'],
      [{ code: 429, message: 'Rate limit exceeded' }, 'upstream_rate_limited'],
      [{ code: 404, message: 'Video generation job not found' }, 'task_not_found'],
      [{ code: 402, message: 'Insufficient credits' }, 'upstream_error'],
      [{ message: 'Something went wrong' }, 'upstream_error'],
      ['Something went wrong', 'upstream_error'],
    ];
    for (const [error, code] of cases) {
      const thrown = await lookupError(openrouter, ID, () => answer(200, { error }));
      assert.equal(thrown.code, code, JSON.stringify(error));
      assert.ok(!thrown.detail.includes('User not found') && !thrown.detail.includes('went wrong'), thrown.detail);
      if (code === 'upstream_rate_limited') assert.equal(thrown.retryAfter, 5);
    }
  });

  it('a 200 that is not JSON, names no status, or is a relay envelope → upstream_invalid_response', () => {
    assertThrowsCode(answer(200, '<html>Just a moment...</html>'), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { id: ID, polling_url: `/api/v1/videos/${ID}` }), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { id: ID, status: '   ' }), 'upstream_invalid_response');
    assertThrowsCode(answer(200, fixture('relay-envelope')), 'upstream_invalid_response');
    assertThrowsCode(answer(200, '[]'), 'upstream_invalid_response');
  });
});
