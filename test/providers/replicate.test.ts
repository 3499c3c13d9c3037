/**
 * The replicate adapter against recorded shapes: one GET of the prediction with a Bearer
 * token; every status word; `output` as a URL, a list or an object, typed by extension;
 * removed files; every failure shape; not-found, auth and throttling answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_WITHOUT_DETAILS } from '../../src/providers/normalize.js';
import { replicate } from '../../src/providers/replicate/index.js';
import { outputTypeOf, throttledSeconds } from '../../src/providers/replicate/map.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = 'qz7mfxlkw3vdpygt1o8hbnsuae';
const FAILED_ID = 'gm3qorzdhgbfurvjtvhg6dckhu';
const BASE_URL = 'https://api.replicate.com';
const EXAMPLE_URL = 'https://replicate.delivery/xezq/Xb3kQm9TfWp2LzR7vN5cHd/output.mp4';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/replicate/${name}.json`, import.meta.url), 'utf8');
}

/** The lookup of `id` when its one call is answered with `response`. */
const lookup = (response: UpstreamResponse, id = ID) => runLookup(replicate, id, () => response);
const stateOf = async (name: string, id = ID) => (await lookup(answer(200, fixture(name)), id)).state;

describe('replicate definition', () => {
  it('reads REPLICATE_API_TOKEN, asks api.replicate.com every 2 s, and claims 26-character ids at order 53', () => {
    assert.equal(replicate.name, 'replicate');
    assert.deepEqual(replicate.credentials, [{ setting: 'apiKey', env: 'REPLICATE_API_TOKEN', secret: true }]);
    assert.equal(replicate.defaultBaseUrl, 'https://api.replicate.com');
    assert.equal(replicate.cadenceMs, 2000);
    assert.deepEqual(replicate.idRules, [{ pattern: '^[a-z0-9]{26}$', order: 53 }]);
    assert.equal(replicate.expand, undefined);
  });

  it('has its own status words: aborted is canceled', () => {
    assert.deepEqual(replicate.statuses, {
      queued: ['starting'],
      in_progress: ['processing'],
      succeeded: ['succeeded'],
      failed: ['failed'],
      canceled: ['canceled', 'aborted'],
    });
  });

  it('takes 26 lowercase letters and digits as a prediction id, nothing else', () => {
    const { pattern, example } = replicate.nativeIds;
    assert.equal(example, ID);
    for (const id of [ID, FAILED_ID, '0'.repeat(26), 'abcdefghijklmnopqrstuvwxyz']) assert.ok(pattern.test(id), id);
    for (const id of [ID.toUpperCase(), ID.slice(1), `${ID}a`, `${ID.slice(0, 25)}-`, `${ID.slice(0, 25)}/`, '', 'a'.repeat(27)]) {
      assert.ok(!pattern.test(id), id);
    }
  });

  it('routes a bare 26-character id to replicate; replicate:<other form> is a 400 naming the form', () => {
    const router = new Router(loadConfig({}).routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    assert.deepEqual(router.resolve(ID).candidates, [{ provider: 'replicate', nativeId: ID }]);
    assert.deepEqual(router.resolve(`replicate:${ID}`).candidates, [{ provider: 'replicate', nativeId: ID }]);
    assert.throws(
      () => router.resolve('replicate:task_abc001'),
      (error) =>
        error instanceof GatewayError &&
        error.code === 'invalid_task_id' &&
        error.detail === `The id does not have the form its provider uses: a replicate task id is a prediction id: 26 lowercase letters and digits, e.g. ${ID}.`,
    );
    assert.throws(() => router.resolve(ID.toUpperCase()), (error) => error instanceof GatewayError && error.code === 'no_provider_for_task_id');
  });
});

describe('replicate requests', () => {
  it('one GET of /v1/predictions/{id} with Authorization: Bearer <token>, and nothing else', async () => {
    const { requests } = await runLookup(replicate, ID, () => answer(200, fixture('prediction-processing')), { credentials: { apiKey: 'r8_test-token' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.template, request.headers]),
      [['GET', `${BASE_URL}/v1/predictions/${ID}`, '/v1/predictions/{id}', { authorization: 'Bearer r8_test-token' }]],
    );
  });

  it("keeps the base URL's own path", async () => {
    const { requests } = await runLookup(replicate, ID, () => answer(200, fixture('prediction-processing')), { baseUrl: 'https://proxy.example/replicate' });
    assert.equal(requests[0]?.url, `https://proxy.example/replicate/v1/predictions/${ID}`);
  });
});

describe('replicate status words', () => {
  it('starting → queued, processing → in_progress, with no progress figure (only the logs grow)', async () => {
    const queued = await stateOf('prediction-starting');
    assert.deepEqual(queued, {
      provider_task_id: ID,
      status: 'queued',
      provider_status: 'starting',
      progress: null,
      url: null,
      outputs: [],
      error: null,
      model: 'minimax/video-01',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: null,
      expires_at: null,
    });
    const running = await stateOf('prediction-processing');
    assert.deepEqual([running.status, running.provider_status, running.progress, running.outputs], ['in_progress', 'processing', null, []]);
  });

  it('canceled and aborted → canceled, without an error', async () => {
    for (const [name, word] of [
      ['prediction-canceled', 'canceled'],
      ['prediction-aborted', 'aborted'],
    ] as const) {
      const state = await stateOf(name);
      assert.deepEqual([state.status, state.provider_status, state.error, state.url, state.completed_at], ['canceled', word, null, null, '2026-05-01T10:01:00Z']);
    }
  });

  it('words in any case; a word outside the table is in_progress and kept', async () => {
    assert.equal((await lookup(answer(200, { status: 'PROCESSING' }))).state.status, 'in_progress');
    assert.equal((await lookup(answer(200, { status: 'Aborted' }))).state.status, 'canceled');
    const odd = await lookup(answer(200, { id: ID, status: 'booting' }));
    assert.deepEqual([odd.state.status, odd.state.provider_status], ['in_progress', 'booting']);
  });

  it('an output on a prediction that has not succeeded is not a result yet', async () => {
    const { state } = await lookup(answer(200, { id: ID, status: 'processing', output: ['https://replicate.delivery/a/partial-0.png'] }));
    assert.deepEqual([state.status, state.outputs, state.url], ['in_progress', [], null]);
  });
});

describe('replicate results', () => {
  it("maps docs/providers/replicate.md's example: succeeded with its video URL, times in whole seconds", async () => {
    assert.deepEqual(await stateOf('prediction-succeeded'), {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'succeeded',
      progress: 100,
      url: EXAMPLE_URL,
      outputs: [{ type: 'video', url: EXAMPLE_URL }],
      error: null,
      model: 'minimax/video-01',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: '2026-05-01T10:03:07Z',
      expires_at: null,
    });
  });

  it('a list of URLs: each one, typed by its extension in any case', async () => {
    const state = await stateOf('prediction-succeeded-array', 'p4n8vq2xk7hd3mrt6wcy5bzj1a');
    assert.deepEqual(state.outputs, [
      { type: 'image', url: 'https://replicate.delivery/yhqm/Hk2pR8/out-0.webp' },
      { type: 'image', url: 'https://replicate.delivery/yhqm/Hk2pR8/out-1.WEBP' },
    ]);
    assert.deepEqual([state.url, state.model, state.completed_at], ['https://replicate.delivery/yhqm/Hk2pR8/out-0.webp', 'black-forest-labs/flux-schnell', '2026-05-01T11:00:01Z']);
  });

  it("an object: its string URLs and its lists' URLs, one level down, in order; url is the first video", async () => {
    const state = await stateOf('prediction-succeeded-object', 'w9c2kd7mf3xq8tzn5vhb1rpa6e');
    assert.deepEqual(state.outputs, [
      { type: 'image', url: 'https://replicate.delivery/czjl/Tq7/thumb.jpg?download=1' },
      { type: 'video', url: 'https://replicate.delivery/czjl/Tq7/clip.mov' },
      { type: 'audio', url: 'https://replicate.delivery/czjl/Tq7/music.m4a' },
      { type: 'image', url: 'https://replicate.delivery/czjl/Tq7/frame-0.png' },
      { type: 'image', url: 'https://replicate.delivery/czjl/Tq7/frame-1.gif' },
      { type: 'file', url: 'https://replicate.delivery/czjl/Tq7/metadata.json' },
    ]);
    assert.equal(state.url, 'https://replicate.delivery/czjl/Tq7/clip.mov');
  });

  it('types a file by the extension of its path: mp4/webm/mov video, png/jpg/jpeg/webp/gif image, mp3/wav/m4a/ogg audio, else file', () => {
    const cases: Array<[string, string]> = [
      ['https://x.example/a/out.mp4', 'video'],
      ['https://x.example/a/out.webm?sig=1', 'video'],
      ['https://x.example/a/OUT.MOV', 'video'],
      ['https://x.example/a/out.png', 'image'],
      ['https://x.example/a/out.jpg', 'image'],
      ['https://x.example/a/out.jpeg#frag', 'image'],
      ['https://x.example/a/out.webp', 'image'],
      ['https://x.example/a/out.gif', 'image'],
      ['https://x.example/a/out.mp3', 'audio'],
      ['https://x.example/a/out.wav', 'audio'],
      ['https://x.example/a/out.m4a', 'audio'],
      ['https://x.example/a/out.ogg', 'audio'],
      ['https://x.example/a/out.zip', 'file'],
      ['https://x.example/a/output', 'file'],
      ['https://x.example/a.mp4/output', 'file'],
      ['https://x.example/a/out.txt?name=x.mp4', 'file'],
      ['https://x.example/', 'file'],
    ];
    for (const [url, type] of cases) assert.equal(outputTypeOf(url), type, url);
  });

  it('only absolute http(s) URLs are files: text, relative paths and data: URIs are not', async () => {
    const { state } = await lookup(
      answer(200, { status: 'succeeded', output: ['hello', '/v1/files/x.mp4', 'data:video/mp4;base64,AAAA', 'ftp://x.example/a.mp4', ' https://replicate.delivery/a/b.mp4 ', 'https://user:pw@replicate.delivery/c.png'] }),
    );
    assert.deepEqual(state.outputs, [
      { type: 'video', url: 'https://replicate.delivery/a/b.mp4' },
      { type: 'image', url: 'https://replicate.delivery/c.png' },
    ]);
  });

  it('a succeeded prediction without a file (a language model, an empty output) is upstream_invalid_response', async () => {
    const text = await lookupError(replicate, ID, () => answer(200, fixture('prediction-succeeded-text')));
    assert.deepEqual([text.code, text.detail], ['upstream_invalid_response', 'replicate reported a succeeded task without a usable result URL']);
    for (const output of [null, '', [], {}, 42, [[EXAMPLE_URL]], { nested: { video: EXAMPLE_URL } }]) {
      const error = await lookupError(replicate, ID, () => answer(200, { status: 'succeeded', output, data_removed: false }));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(output));
    }
  });

  it('data_removed with no output: succeeded, its files removed (the gateway then serves a 410)', async () => {
    const state = await stateOf('prediction-data-removed');
    assert.deepEqual(state, {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'succeeded',
      progress: 100,
      url: null,
      outputs: [],
      error: null,
      model: 'minimax/video-01',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: '2026-05-01T10:03:07Z',
      expires_at: null,
      filesRemoved: true,
    });
  });

  it('data_removed while the output is still there keeps the files; data_removed on an unfinished prediction means nothing', async () => {
    const kept = (await lookup(answer(200, { status: 'succeeded', output: EXAMPLE_URL, data_removed: true }))).state;
    assert.deepEqual([kept.url, kept.filesRemoved], [EXAMPLE_URL, undefined]);
    const running = (await lookup(answer(200, { status: 'processing', output: null, data_removed: true }))).state;
    assert.deepEqual([running.status, running.filesRemoved], ['in_progress', undefined]);
    const failed = (await lookup(answer(200, { status: 'failed', output: null, error: 'x', data_removed: true }))).state;
    assert.deepEqual([failed.status, failed.filesRemoved], ['failed', undefined]);
  });
});

describe('replicate failures', () => {
  it("docs/providers/replicate.md's failure: the error string as the message, task_failed as the code", async () => {
    const state = await stateOf('prediction-failed', FAILED_ID);
    assert.deepEqual(state, {
      provider_task_id: FAILED_ID,
      status: 'failed',
      provider_status: 'failed',
      progress: null,
      url: null,
      outputs: [],
      error: { code: 'task_failed', message: 'NSFW content detected' },
      model: 'minimax/video-01',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: '2026-05-01T10:00:06Z',
      expires_at: null,
    });
  });

  it('an error object as relays pass it on: {detail} or {message}, with its code when it has one', async () => {
    assert.deepEqual((await stateOf('prediction-failed-error-detail', FAILED_ID)).error, { code: 'task_failed', message: 'Prediction interrupted; please retry (code: PA)' });
    assert.deepEqual((await stateOf('prediction-failed-error-message', FAILED_ID)).error, { code: 'task_failed', message: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
    assert.deepEqual((await lookup(answer(200, { status: 'failed', error: { code: 'E1001', detail: 'bad input' } }))).state.error, { code: 'E1001', message: 'bad input' });
    assert.deepEqual((await lookup(answer(200, { status: 'failed', error: { code: 500 } }))).state.error, { code: '500', message: FAILURE_WITHOUT_DETAILS.message });
  });

  it('a failure without details (none, blank, or of another shape) gets the generic error', async () => {
    assert.deepEqual((await stateOf('prediction-failed-no-error', FAILED_ID)).error, FAILURE_WITHOUT_DETAILS);
    for (const error of ['  ', {}, 42, ['x'], true]) {
      assert.deepEqual((await lookup(answer(200, { status: 'failed', error }))).state.error, FAILURE_WITHOUT_DETAILS, JSON.stringify(error));
    }
  });

  it('an error on a prediction that did not fail is no error', async () => {
    const state = (await lookup(answer(200, { status: 'canceled', error: 'canceled by user' }))).state;
    assert.deepEqual([state.status, state.error], ['canceled', null]);
  });
});

describe('replicate errors', () => {
  it('404 → task_not_found', async () => {
    const error = await lookupError(replicate, ID, () => answer(404, fixture('error-404')));
    assert.deepEqual([error.code, error.detail], ['task_not_found', 'replicate has no task with this id']);
  });

  it('401 and 403 → upstream_auth_failed, with our own sentence', async () => {
    for (const [statusCode, body] of [
      [401, fixture('error-401')],
      [403, { title: 'Forbidden', detail: 'You do not have permission to perform this action.', status: 403 }],
    ] as const) {
      const error = await lookupError(replicate, ID, () => answer(statusCode, body));
      assert.deepEqual([error.code, error.detail], ['upstream_auth_failed', `replicate rejected the gateway's credentials (HTTP ${statusCode})`]);
    }
  });

  it("429 → upstream_rate_limited: Retry-After when sent, else the seconds its detail names, else 5", async () => {
    const withHeader = await lookupError(replicate, ID, () => answer(429, fixture('error-429'), { 'retry-after': '7' }));
    assert.deepEqual([withHeader.code, withHeader.retryAfter], ['upstream_rate_limited', 7]);
    const fromDetail = await lookupError(replicate, ID, () => answer(429, fixture('error-429')));
    assert.deepEqual([fromDetail.code, fromDetail.retryAfter, fromDetail.detail], ['upstream_rate_limited', 1, 'replicate is rate limiting the gateway (HTTP 429)']);
    assert.equal((await lookupError(replicate, ID, () => answer(429, fixture('error-429-seconds')))).retryAfter, 12);
    assert.equal((await lookupError(replicate, ID, () => answer(429, fixture('error-429-seconds'), { 'retry-after': 'soon' }))).retryAfter, 12);
    for (const body of ['<html>Too Many Requests</html>', { detail: 'Request was throttled.' }, { title: 'Throttled' }]) {
      assert.equal((await lookupError(replicate, ID, () => answer(429, body))).retryAfter, 5, JSON.stringify(body));
    }
  });

  it('reads the delay of a throttled detail in seconds, at least 1', () => {
    assert.equal(throttledSeconds('Request was throttled. Expected available in 1 second.'), 1);
    assert.equal(throttledSeconds('Request was throttled. Expected available in 30 seconds.'), 30);
    assert.equal(throttledSeconds('Expected available in 0 seconds.'), 1);
    assert.equal(throttledSeconds('Request was throttled.'), undefined);
    assert.equal(throttledSeconds(null), undefined);
  });

  it('5xx and other 4xx → upstream_error; a body that is not a prediction → upstream_invalid_response', async () => {
    for (const statusCode of [400, 422, 500, 502, 503]) {
      const error = await lookupError(replicate, ID, () => answer(statusCode, { detail: 'Internal server error' }));
      assert.deepEqual([error.code, error.detail], ['upstream_error', `replicate answered HTTP ${statusCode}`]);
    }
    for (const body of ['<html>Just a moment...</html>', '', '[]', { id: ID, output: EXAMPLE_URL }, { status: 3 }]) {
      assert.equal((await lookupError(replicate, ID, () => answer(200, body))).code, 'upstream_invalid_response', JSON.stringify(body));
    }
  });
});
