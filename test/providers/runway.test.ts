/**
 * The runway adapter against recorded shapes: one GET of the task with a Bearer key and
 * `X-Runway-Version`; every status word (THROTTLED queued); progress a fraction of one,
 * only while running; outputs typed by their path's extension; failures with and without
 * a code; not-found (404, and a relay's `task_not_exist` 400), auth, throttling, 5xx.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_WITHOUT_DETAILS } from '../../src/providers/normalize.js';
import { runway } from '../../src/providers/runway/index.js';
import { outputTypeOf } from '../../src/providers/runway/map.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = '63fd0f13-f29d-4e58-99d3-1cb9efa14a5b';
const FAILED_ID = '9b2e7c41-5d3a-4f8e-b6c2-0a7d1e4f3c85';
const IMAGE_ID = '2c6f9a1e-8b47-4d3c-a5e2-7f0b1d9c4e68';
const BASE_URL = 'https://api.dev.runwayml.com';
const EXAMPLE_URL = 'https://dnznrvs05pmza.cloudfront.net/7d1c2e9a-4b3f-4a8e-9c21-5e6f7a8b9c0d/video.mp4?_jwt=example-signed-link';
const UUID_RULE = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/runway/${name}.json`, import.meta.url), 'utf8');
}

/** The lookup of `id` when its one call is answered with `response`. */
const lookup = (response: UpstreamResponse, id = ID) => runLookup(runway, id, () => response);
const stateOf = async (name: string, id = ID) => (await lookup(answer(200, fixture(name)), id)).state;

describe('runway definition', () => {
  it('reads RUNWAYML_API_SECRET, asks api.dev.runwayml.com every 5 s, and claims UUIDs at order 60', () => {
    assert.equal(runway.name, 'runway');
    assert.deepEqual(runway.credentials, [{ setting: 'apiKey', env: 'RUNWAYML_API_SECRET', secret: true }]);
    assert.equal(runway.defaultBaseUrl, 'https://api.dev.runwayml.com');
    assert.equal(runway.cadenceMs, 5000);
    assert.deepEqual(runway.idRules, [{ pattern: UUID_RULE, order: 60 }]);
    assert.equal(runway.expand, undefined);
  });

  it('has its own status words: THROTTLED is queued, CANCELLED canceled', () => {
    assert.deepEqual(runway.statuses, {
      queued: ['PENDING', 'THROTTLED'],
      in_progress: ['RUNNING'],
      succeeded: ['SUCCEEDED'],
      failed: ['FAILED'],
      canceled: ['CANCELLED'],
    });
  });

  it('takes a UUID in any case as a task id, nothing else', () => {
    const { pattern, example } = runway.nativeIds;
    assert.equal(example, ID);
    for (const id of [ID, ID.toUpperCase(), FAILED_ID, '00000000-0000-0000-0000-000000000000']) assert.ok(pattern.test(id), id);
    for (const id of [ID.slice(1), `${ID}0`, ID.replaceAll('-', ''), `${ID.slice(0, 35)}g`, `{${ID}}`, `${ID}/x`, '', 'task_abc001']) {
      assert.ok(!pattern.test(id), id);
    }
  });

  it('routes a bare UUID to runway (first of the UUID providers); runway:<other form> is a 400 naming the form', () => {
    const router = new Router(loadConfig({}).routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    assert.equal(router.resolve(ID).candidates[0]?.provider, 'runway');
    assert.deepEqual(router.resolve(ID).candidates[0], { provider: 'runway', nativeId: ID });
    assert.deepEqual(router.resolve(`runway:${ID}`).candidates, [{ provider: 'runway', nativeId: ID }]);
    assert.throws(
      () => router.resolve('runway:task_abc001'),
      (error) =>
        error instanceof GatewayError &&
        error.code === 'invalid_task_id' &&
        error.detail === `The id does not have the form its provider uses: a runway task id is a task id: a UUID (8-4-4-4-12 hexadecimal digits), e.g. ${ID}.`,
    );
  });
});

describe('runway requests', () => {
  it('one GET of /v1/tasks/{id} with Authorization: Bearer <key> and X-Runway-Version: 2024-11-06, and nothing else', async () => {
    const { requests } = await runLookup(runway, ID, () => answer(200, fixture('task-running')), { credentials: { apiKey: 'key_test-secret' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.template, request.headers]),
      [['GET', `${BASE_URL}/v1/tasks/${ID}`, '/v1/tasks/{id}', { authorization: 'Bearer key_test-secret', 'x-runway-version': '2024-11-06' }]],
    );
  });

  it('sends the version header on every call, whatever the answer', async () => {
    for (const response of [answer(200, fixture('task-succeeded')), answer(404, fixture('error-404')), answer(503, { error: 'Service Unavailable' })]) {
      const made: Array<Record<string, string>> = [];
      await runLookup(runway, ID, (request) => {
        made.push(request.headers);
        return response;
      }).catch(() => undefined);
      assert.deepEqual(made.map((headers) => headers['x-runway-version']), ['2024-11-06'], String(response.statusCode));
    }
  });

  it("keeps the base URL's own path, and sends the id as it was given", async () => {
    const { requests } = await runLookup(runway, ID.toUpperCase(), () => answer(200, fixture('task-pending')), { baseUrl: 'https://proxy.example/runway' });
    assert.equal(requests[0]?.url, `https://proxy.example/runway/v1/tasks/${ID.toUpperCase()}`);
  });
});

describe('runway status words', () => {
  it('PENDING and THROTTLED → queued, without progress', async () => {
    for (const [name, word] of [
      ['task-pending', 'PENDING'],
      ['task-throttled', 'THROTTLED'],
    ] as const) {
      assert.deepEqual(await stateOf(name), {
        provider_task_id: ID,
        status: 'queued',
        provider_status: word,
        progress: null,
        url: null,
        outputs: [],
        error: null,
        model: null,
        created_at: '2026-05-01T10:00:00Z',
        completed_at: null,
        expires_at: null,
      });
    }
  });

  it('RUNNING → in_progress, its progress fraction as a percentage', async () => {
    const running = await stateOf('task-running');
    assert.deepEqual([running.status, running.provider_status, running.progress, running.outputs, running.url], ['in_progress', 'RUNNING', 42, [], null]);
    for (const [progress, percent] of [
      [0, 0],
      [0.005, 1],
      [0.999, 100],
      [1, 100],
      [0.3333, 33],
      ['0.5', 50],
    ] as const) {
      assert.equal((await lookup(answer(200, { id: ID, status: 'RUNNING', progress }))).state.progress, percent, String(progress));
    }
    assert.equal((await lookup(answer(200, { id: ID, status: 'RUNNING' }))).state.progress, null, 'no figure yet');
    assert.equal((await lookup(answer(200, { id: ID, status: 'RUNNING', progress: { value: 1 } }))).state.progress, null, 'a figure of another type');
  });

  it('progress outside a running task is not shown', async () => {
    for (const status of ['PENDING', 'THROTTLED', 'FAILED', 'CANCELLED']) {
      assert.equal((await lookup(answer(200, { id: ID, status, progress: 0.4, failure: 'x' }))).state.progress, null, status);
    }
    assert.equal((await lookup(answer(200, { id: ID, status: 'SUCCEEDED', progress: 0.4, output: [EXAMPLE_URL] }))).state.progress, 100);
  });

  it('CANCELLED → canceled, without an error', async () => {
    const state = await stateOf('task-cancelled');
    assert.deepEqual([state.status, state.provider_status, state.error, state.url], ['canceled', 'CANCELLED', null, null]);
  });

  it('words in any case; a word outside the table is in_progress and kept', async () => {
    assert.equal((await lookup(answer(200, { status: 'throttled' }))).state.status, 'queued');
    assert.equal((await lookup(answer(200, { status: 'Cancelled' }))).state.status, 'canceled');
    const odd = await lookup(answer(200, { id: ID, status: 'ASSEMBLING', progress: 0.9 }));
    assert.deepEqual([odd.state.status, odd.state.provider_status, odd.state.progress], ['in_progress', 'ASSEMBLING', 90]);
  });
});

describe('runway results', () => {
  it("maps the documented example: succeeded with its CDN video, handed out with its signed query", async () => {
    assert.deepEqual(await stateOf('task-succeeded'), {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'SUCCEEDED',
      progress: 100,
      url: EXAMPLE_URL,
      outputs: [{ type: 'video', url: EXAMPLE_URL }],
      error: null,
      model: null,
      created_at: '2026-05-01T10:00:00Z',
      completed_at: null,
      // Runway's links expire in 24-48 hours; no link says when, so nothing is claimed.
      expires_at: null,
    });
  });

  it('a text-to-image task: each URL of output an image, in order; url is the first', async () => {
    const state = await stateOf('task-succeeded-image', IMAGE_ID);
    const base = 'https://dnznrvs05pmza.cloudfront.net/0e4b7d2a-91c3-4f5e-8a6b-2d7c9e1f3a40';
    assert.deepEqual(state.outputs, [
      { type: 'image', url: `${base}/image.png?_jwt=example-signed-link-0` },
      { type: 'image', url: `${base}/image-1.PNG?_jwt=example-signed-link-1` },
    ]);
    assert.deepEqual([state.url, state.provider_task_id, state.created_at], [`${base}/image.png?_jwt=example-signed-link-0`, IMAGE_ID, '2026-05-01T11:30:12Z']);
  });

  it("types a file by its path's extension: none is a video; the query is not looked at", () => {
    const cases: Array<[string, string]> = [
      ['https://d.example/a/video.mp4?_jwt=x', 'video'],
      ['https://d.example/a/out.webm', 'video'],
      ['https://d.example/a/OUT.MOV', 'video'],
      ['https://d.example/a/task-output?_jwt=x.png', 'video'],
      ['https://d.example/a/', 'video'],
      ['https://d.example/a.png/output', 'video'],
      ['https://d.example/a/image.png', 'image'],
      ['https://d.example/a/image.JPEG', 'image'],
      ['https://d.example/a/i.webp', 'image'],
      ['https://d.example/a/i.gif', 'image'],
      ['https://d.example/a/speech.mp3', 'audio'],
      ['https://d.example/a/effect.wav', 'audio'],
      ['https://d.example/a/voice.m4a', 'audio'],
      ['https://d.example/a/out.zip', 'file'],
      ['https://d.example/a/out.json?_jwt=x', 'file'],
    ];
    for (const [url, type] of cases) assert.equal(outputTypeOf(url), type, url);
  });

  it('only absolute http(s) URLs are files: other strings and values are not; a lone string is tolerated', async () => {
    const { state } = await lookup(
      answer(200, { status: 'SUCCEEDED', output: ['not a url', '/v1/files/x.mp4', 'data:video/mp4;base64,AAAA', 42, null, { url: EXAMPLE_URL }, ' https://d.example/a/b.mp4 ', 'https://u:p@d.example/c.png'] }),
    );
    assert.deepEqual(state.outputs, [
      { type: 'video', url: 'https://d.example/a/b.mp4' },
      { type: 'image', url: 'https://d.example/c.png' },
    ]);
    assert.deepEqual((await lookup(answer(200, { status: 'SUCCEEDED', output: EXAMPLE_URL }))).state.outputs, [{ type: 'video', url: EXAMPLE_URL }]);
  });

  it('a succeeded task without a file is upstream_invalid_response', async () => {
    for (const output of [undefined, null, [], [''], ['not a url'], {}, 42, [[EXAMPLE_URL]]]) {
      const error = await lookupError(runway, ID, () => answer(200, { id: ID, status: 'SUCCEEDED', output }));
      assert.deepEqual([error.code, error.detail], ['upstream_invalid_response', 'runway reported a succeeded task without a usable result URL'], JSON.stringify(output));
    }
  });

  it('an output on a task that has not succeeded is not a result', async () => {
    const { state } = await lookup(answer(200, { id: ID, status: 'RUNNING', progress: 0.9, output: [EXAMPLE_URL] }));
    assert.deepEqual([state.status, state.outputs, state.url], ['in_progress', [], null]);
  });

  it('a model, when a relay adds one, is kept', async () => {
    assert.equal((await lookup(answer(200, { id: ID, status: 'PENDING', model: 'gen4_turbo' }))).state.model, 'gen4_turbo');
  });
});

describe('runway failures', () => {
  it("the documented failure: failureCode as the code, failure as the message", async () => {
    assert.deepEqual(await stateOf('task-failed', FAILED_ID), {
      provider_task_id: FAILED_ID,
      status: 'failed',
      provider_status: 'FAILED',
      progress: null,
      url: null,
      outputs: [],
      error: { code: 'SAFETY.INPUT.TEXT', message: 'Your prompt was flagged by our content moderation.' },
      model: null,
      created_at: '2026-05-01T10:00:00Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('no failureCode: task_failed; no failure: the generic message; neither: the generic failure', async () => {
    assert.deepEqual((await stateOf('task-failed-no-code', FAILED_ID)).error, { code: 'task_failed', message: 'An unexpected error occurred.' });
    assert.deepEqual((await lookup(answer(200, { status: 'FAILED', failureCode: 'INTERNAL.BAD_OUTPUT' }))).state.error, {
      code: 'INTERNAL.BAD_OUTPUT',
      message: FAILURE_WITHOUT_DETAILS.message,
    });
    for (const fields of [{}, { failure: '  ', failureCode: '' }, { failure: 42, failureCode: ['SAFETY'] }]) {
      assert.deepEqual((await lookup(answer(200, { status: 'FAILED', ...fields }))).state.error, FAILURE_WITHOUT_DETAILS, JSON.stringify(fields));
    }
  });

  it('a failure on a task that did not fail is no error', async () => {
    const state = (await lookup(answer(200, { status: 'CANCELLED', failure: 'Task was cancelled', failureCode: 'CANCELLED' }))).state;
    assert.deepEqual([state.status, state.error], ['canceled', null]);
  });
});

describe('runway errors', () => {
  it('404 → task_not_found, whatever its body', async () => {
    for (const body of [fixture('error-404'), '', '<html>Not Found</html>']) {
      const error = await lookupError(runway, ID, () => answer(404, body));
      assert.deepEqual([error.code, error.detail], ['task_not_found', 'runway has no task with this id']);
    }
  });

  it("a 400 whose error says the task does not exist (a relay's task_not_exist) → task_not_found", async () => {
    assert.equal((await lookupError(runway, ID, () => answer(400, fixture('error-400-task-not-exist')))).code, 'task_not_found');
    for (const body of [{ error: 'Task does not exist' }, { error: { code: 'task_not_exist', message: 'task_not_exist' } }, { error: 'Task not found.' }]) {
      assert.equal((await lookupError(runway, ID, () => answer(400, body))).code, 'task_not_found', JSON.stringify(body));
    }
  });

  it("any other 400 (Runway's version-header refusal, a bad input) → upstream_error, with our own sentence", async () => {
    for (const body of [fixture('error-400'), { error: 'Invalid parameter' }, 'task_not_exist', '']) {
      const error = await lookupError(runway, ID, () => answer(400, body));
      assert.deepEqual([error.code, error.detail], ['upstream_error', 'runway answered HTTP 400'], JSON.stringify(body));
    }
  });

  it('401 and 403 → upstream_auth_failed', async () => {
    for (const [statusCode, body] of [
      [401, fixture('error-401')],
      [403, { error: 'Forbidden' }],
    ] as const) {
      const error = await lookupError(runway, ID, () => answer(statusCode, body));
      assert.deepEqual([error.code, error.detail], ['upstream_auth_failed', `runway rejected the gateway's credentials (HTTP ${statusCode})`]);
    }
  });

  it('429 (the daily cap) → upstream_rate_limited with Retry-After, else 5 s', async () => {
    const withHeader = await lookupError(runway, ID, () => answer(429, fixture('error-429'), { 'retry-after': '30' }));
    assert.deepEqual([withHeader.code, withHeader.retryAfter, withHeader.detail], ['upstream_rate_limited', 30, 'runway is rate limiting the gateway (HTTP 429)']);
    assert.equal((await lookupError(runway, ID, () => answer(429, fixture('error-429')))).retryAfter, 5);
  });

  it('502, 503, 504 (Runway shedding load) and other statuses → upstream_error; a body that is not a task → upstream_invalid_response', async () => {
    for (const statusCode of [405, 500, 502, 503, 504]) {
      const error = await lookupError(runway, ID, () => answer(statusCode, { error: 'Service Unavailable' }));
      assert.deepEqual([error.code, error.detail], ['upstream_error', `runway answered HTTP ${statusCode}`]);
    }
    for (const body of ['<html>Just a moment...</html>', '', '[]', { id: ID, output: [EXAMPLE_URL] }, { status: 3 }, { code: 'task_not_exist', message: 'task_not_exist' }]) {
      const error = await lookupError(runway, ID, () => answer(200, body));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(body));
    }
  });
});
