import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { gemini } from '../../src/providers/gemini/index.js';
import { FILTERED_MESSAGE } from '../../src/providers/gemini/map.js';
import { PROVIDERS } from '../../src/providers/index.js';
import type { TaskState } from '../../src/providers/types.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const NAME = 'models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1';
const BASE_URL = 'https://generativelanguage.googleapis.com';
const VIDEO_URI = `${BASE_URL}/v1beta/files/abc123:download?alt=media`;
const KEY = 'AIzaSyTest-gemini-key';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/gemini/${name}.json`, import.meta.url), 'utf8');
}

/** The state the lookup gives for one answer to its one call. */
async function stateOf(response: UpstreamResponse, nativeId = NAME): Promise<TaskState> {
  return (await runLookup(gemini, nativeId, () => response, { credentials: { apiKey: KEY } })).state;
}

async function errorOf(response: UpstreamResponse, nativeId = NAME) {
  return lookupError(gemini, nativeId, () => response, { credentials: { apiKey: KEY } });
}

const RUNNING: TaskState = {
  provider_task_id: NAME,
  status: 'in_progress',
  provider_status: 'running',
  progress: null,
  url: null,
  outputs: [],
  error: null,
  model: 'veo-3.1-generate-preview',
  created_at: null,
  completed_at: null,
  expires_at: null,
};

describe('gemini definition', () => {
  it('reads GEMINI_API_KEY (setting apiKey), defaults to the Gemini API and polls every 10 s', () => {
    assert.equal(gemini.name, 'gemini');
    assert.deepEqual(gemini.credentials, [{ setting: 'apiKey', env: 'GEMINI_API_KEY', secret: true }]);
    assert.equal(gemini.defaultBaseUrl, 'https://generativelanguage.googleapis.com');
    assert.equal(gemini.cadenceMs, 10_000);
    assert.deepEqual(gemini.idRules, [{ pattern: '^models/[^/]+/operations/[^/]+$', order: 50 }]);
  });

  it('accepts operation names of safe segments only, so a name cannot walk the upstream path', () => {
    const accepted = [
      NAME,
      'models/veo-3.0-generate-001/operations/0c33a1b2',
      'models/veo_3/operations/a.b-c_d',
      'models/.../operations/...',
      'models/.x/operations/x.',
    ];
    for (const id of accepted) assert.ok(gemini.nativeIds.pattern.test(id), id);
    const refused = [
      'models/../operations/x',
      'models/./operations/x',
      'models/veo/operations/..',
      'models/veo/operations/.',
      'models/veo/operations/a/b',
      'models/veo/operations/',
      'models//operations/x',
      'models/veo%2F../operations/x',
      'models/veo/operations/a:b',
      'models/veo/operations/a@b',
      'mg3pt9cbmvr1',
      'operations/mg3pt9cbmvr1',
      `x${NAME}`,
      `${NAME}/`,
      'projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/0c33',
    ];
    for (const id of refused) assert.ok(!gemini.nativeIds.pattern.test(id), id);
    assert.ok(gemini.nativeIds.pattern.test(gemini.nativeIds.example));
  });

  it('routes operation names to gemini alone, and a malformed one to a 400 naming the form', () => {
    const config = loadConfig({});
    const router = new Router(config.routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    assert.deepEqual(router.resolve(NAME).candidates, [{ provider: 'gemini', nativeId: NAME }]);
    assert.deepEqual(router.resolve(`gemini:${NAME}`).candidates, [{ provider: 'gemini', nativeId: NAME }]);
    assert.throws(() => router.resolve('models/../operations/x'), (error) => error instanceof GatewayError && error.code === 'invalid_task_id', 'the gateway refuses dot segments itself');
    assert.throws(
      () => router.resolve('models/veo@3/operations/x'),
      (error) => error instanceof GatewayError && error.code === 'invalid_task_id' && error.detail.includes('a gemini task id is an operation name'),
    );
    assert.throws(() => router.resolve('gemini:mg3pt9cbmvr1'), (error) => error instanceof GatewayError && error.code === 'invalid_task_id');
  });

  it('asks GET {base}/v1beta/{name} once, with the key in x-goog-api-key and no Authorization', async () => {
    const { requests } = await runLookup(gemini, NAME, () => answer(200, fixture('running')), { credentials: { apiKey: KEY } });
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request?.method ?? 'GET', 'GET');
    assert.equal(request?.url, `${BASE_URL}/v1beta/models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1`);
    assert.equal(request?.template, '/v1beta/models/{model}/operations/{operation}');
    assert.deepEqual(request?.headers, { 'x-goog-api-key': KEY });
    assert.equal(request?.query, undefined, 'the key never travels in the query');
  });

  it('keeps a base URL\'s path (a relay) in front of /v1beta', async () => {
    const { requests } = await runLookup(gemini, NAME, () => answer(200, fixture('running')), { baseUrl: 'https://relay.example/gemini' });
    assert.equal(requests[0]?.url, 'https://relay.example/gemini/v1beta/models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1');
  });

  it('refuses a malformed name given straight to the lookup, before any call', async () => {
    let calls = 0;
    await assert.rejects(
      runLookup(gemini, 'models/../operations/x', () => {
        calls++;
        return answer(200, fixture('running'));
      }),
      (error) => error instanceof GatewayError && error.code === 'invalid_task_id',
    );
    assert.equal(calls, 0);
  });
});

describe('gemini running operations', () => {
  it('without done (Google): running, in_progress, no progress, the model from the name', async () => {
    assert.deepEqual(await stateOf(answer(200, fixture('running'))), RUNNING);
  });

  it('with done: false (relays): the same', async () => {
    assert.deepEqual(await stateOf(answer(200, fixture('running-done-false'))), RUNNING);
  });

  it("with a relay's metadata.progressPercent: its progress", async () => {
    assert.deepEqual(await stateOf(answer(200, fixture('running-progress'))), { ...RUNNING, progress: 42 });
    const text = await stateOf(answer(200, { name: NAME, metadata: { progressPercent: '30' } }));
    assert.equal(text.progress, 30);
    const odd = await stateOf(answer(200, { name: NAME, done: false, metadata: 'n/a' }));
    assert.deepEqual([odd.status, odd.progress], ['in_progress', null], 'metadata of another shape is no progress, not a broken answer');
  });

  it('takes the model and the task id from the name asked for', async () => {
    const other = 'models/veo-3.0-generate-001/operations/0c33a1b2';
    const state = await stateOf(answer(200, { name: other, done: false }), other);
    assert.deepEqual([state.provider_task_id, state.model], [other, 'veo-3.0-generate-001']);
  });
});

describe('gemini done operations', () => {
  it('done with samples: succeeded, each sample\'s URI a video output, provider_status done', async () => {
    assert.deepEqual(await stateOf(answer(200, fixture('done'))), {
      ...RUNNING,
      status: 'succeeded',
      provider_status: 'done',
      progress: 100,
      url: VIDEO_URI,
      outputs: [{ type: 'video', url: VIDEO_URI }],
    });
  });

  it('done with two samples: two video outputs, the first is url; a relative URI resolves on the base URL', async () => {
    const body = {
      name: NAME,
      done: true,
      response: { generateVideoResponse: { generatedSamples: [{ video: { uri: '/v1beta/files/one:download?alt=media' } }, { video: { uri: VIDEO_URI } }] } },
    };
    const state = await stateOf(answer(200, body));
    assert.deepEqual(state.outputs, [
      { type: 'video', url: `${BASE_URL}/v1beta/files/one:download?alt=media` },
      { type: 'video', url: VIDEO_URI },
    ]);
    assert.equal(state.url, `${BASE_URL}/v1beta/files/one:download?alt=media`);
  });

  it('done with an error: failed with its code as text and its message', async () => {
    const state = await stateOf(answer(200, fixture('done-failed')));
    assert.deepEqual(
      [state.status, state.provider_status, state.error, state.url, state.outputs],
      ['failed', 'done', { code: '3', message: 'Unsupported aspect ratio' }, null, []],
    );
  });

  it("done with an error without a code: its status names it; without anything, the contract's sentence", async () => {
    const statusOnly = await stateOf(answer(200, { name: NAME, done: true, error: { status: 'INTERNAL', message: 'Video generation failed.' } }));
    assert.deepEqual(statusOnly.error, { code: 'INTERNAL', message: 'Video generation failed.' });
    const codeOnly = await stateOf(answer(200, { name: NAME, done: true, error: { code: 13 } }));
    assert.deepEqual(codeOnly.error, { code: '13', message: 'The provider reported a failure without details' });
    const empty = await stateOf(answer(200, { name: NAME, done: true, error: {} }));
    assert.deepEqual([empty.status, empty.error], ['failed', { code: 'task_failed', message: 'The provider reported a failure without details' }]);
    const text = await stateOf(answer(200, { name: NAME, done: true, error: 'quota exceeded for this project' }));
    assert.deepEqual(text.error, { code: 'task_failed', message: 'quota exceeded for this project' });
  });

  it('an error wins over samples sent with it', async () => {
    const body = { ...JSON.parse(fixture('done')), error: { code: 13, message: 'Internal error', status: 'INTERNAL' } };
    const state = await stateOf(answer(200, body));
    assert.deepEqual([state.status, state.error, state.outputs], ['failed', { code: '13', message: 'Internal error' }, []]);
  });

  it('done and filtered (reasons inside generateVideoResponse): failed, content_filtered with the first reason', async () => {
    const state = await stateOf(answer(200, fixture('done-filtered')));
    assert.deepEqual([state.status, state.provider_status, state.url], ['failed', 'done', null]);
    assert.deepEqual(state.error, {
      code: 'content_filtered',
      message: 'We encountered an issue with the audio for your prompt, please try a different prompt. You have not been charged for this attempt.',
    });
  });

  it('done and filtered (reasons on response itself): the same', async () => {
    const state = await stateOf(answer(200, fixture('done-filtered-response-level')));
    assert.deepEqual(state.error, {
      code: 'content_filtered',
      message: "The video could not be generated because it violates Google's Generative AI Prohibited Use policy. You have not been charged for this attempt.",
    });
  });

  it('done with no sample and no reason (the silent filter): content_filtered with a sentence saying so', async () => {
    const silent = await stateOf(answer(200, fixture('done-filtered-silent')));
    assert.deepEqual([silent.status, silent.error], ['failed', { code: 'content_filtered', message: FILTERED_MESSAGE }]);
    for (const body of [
      { name: NAME, done: true },
      { name: NAME, done: true, response: {} },
      { name: NAME, done: true, response: { generateVideoResponse: { generatedSamples: [] } } },
      { name: NAME, done: true, response: { generateVideoResponse: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: [] } } },
      { name: NAME, done: true, response: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: 'not a list' } },
    ]) {
      assert.deepEqual((await stateOf(answer(200, body))).error, { code: 'content_filtered', message: FILTERED_MESSAGE }, JSON.stringify(body));
    }
  });

  it('done with samples but no usable URI is a broken answer, not a success', async () => {
    for (const samples of [[{ video: {} }], [{ video: { uri: 'gs://bucket/video.mp4' } }], [{}]]) {
      const error = await errorOf(answer(200, { name: NAME, done: true, response: { generateVideoResponse: { generatedSamples: samples } } }));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(samples));
    }
  });
});

describe('gemini errors', () => {
  it('404 NOT_FOUND is task_not_found', async () => {
    const error = await errorOf(answer(404, fixture('error-404')));
    assert.deepEqual([error.code, error.detail], ['task_not_found', 'gemini has no task with this id']);
  });

  it('429 RESOURCE_EXHAUSTED is upstream_rate_limited, with its Retry-After or 5 s', async () => {
    const withHeader = await errorOf(answer(429, fixture('error-429'), { 'retry-after': '12' }));
    assert.deepEqual([withHeader.code, withHeader.retryAfter], ['upstream_rate_limited', 12]);
    const without = await errorOf(answer(429, fixture('error-429')));
    assert.deepEqual([without.code, without.retryAfter], ['upstream_rate_limited', 5]);
  });

  it('a 400 about the key (API_KEY_INVALID) is upstream_auth_failed; another 400 is upstream_error', async () => {
    const key = await errorOf(answer(400, fixture('error-400-api-key-invalid')));
    assert.deepEqual([key.code, key.detail], ['upstream_auth_failed', "gemini rejected the gateway's credentials (HTTP 400)"]);
    const keyByMessage = await errorOf(answer(400, { error: { code: 400, message: 'API key expired. Please renew the API key.', status: 'INVALID_ARGUMENT' } }));
    assert.equal(keyByMessage.code, 'upstream_auth_failed');
    const denied = await errorOf(answer(400, { error: { code: 400, message: 'Permission denied.', status: 'PERMISSION_DENIED' } }));
    assert.equal(denied.code, 'upstream_auth_failed');
    const other = await errorOf(answer(400, fixture('error-400-invalid-argument')));
    assert.deepEqual([other.code, other.detail], ['upstream_error', 'gemini answered HTTP 400']);
    const notJson = await errorOf(answer(400, 'Bad Request'));
    assert.equal(notJson.code, 'upstream_error');
  });

  it('403 PERMISSION_DENIED and 401 are upstream_auth_failed', async () => {
    assert.equal((await errorOf(answer(403, fixture('error-403-permission-denied')))).code, 'upstream_auth_failed');
    assert.equal((await errorOf(answer(401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }))).code, 'upstream_auth_failed');
  });

  it('5xx is upstream_error, and no detail carries the body', async () => {
    const error = await errorOf(answer(500, fixture('error-500')));
    assert.deepEqual([error.code, error.detail], ['upstream_error', 'gemini answered HTTP 500']);
    assert.ok(!error.detail.includes('internal error'));
  });

  it('an error envelope inside an HTTP 200 is never a task failure', async () => {
    const cases: Array<[unknown, string]> = [
      [{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }, 'upstream_rate_limited'],
      [JSON.parse(fixture('error-400-api-key-invalid')), 'upstream_auth_failed'],
      [JSON.parse(fixture('error-403-permission-denied')), 'upstream_auth_failed'],
      [{ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }, 'upstream_auth_failed'],
      [JSON.parse(fixture('error-404')), 'task_not_found'],
      [{ name: NAME, done: false, error: { code: 13, message: 'Internal error', status: 'INTERNAL' } }, 'upstream_error'],
      [{ error: { message: 'Something went wrong' } }, 'upstream_error'],
    ];
    for (const [body, code] of cases) {
      const error = await errorOf(answer(200, body as object, { 'retry-after': '9' }));
      assert.equal(error.code, code, JSON.stringify(body));
      assert.ok(!error.detail.includes('exhausted') && !error.detail.includes('API key'), error.detail);
      if (code === 'upstream_rate_limited') assert.equal(error.retryAfter, 9);
    }
  });

  it('a 200 that is not an operation is upstream_invalid_response', async () => {
    for (const body of ['', '<html>502</html>', '[]', 'null', '{}', '{"name": ""}', '{"done": "yes"}', '{"name": 7}', JSON.stringify({ name: NAME, done: true, response: 'x' })]) {
      const error = await errorOf(answer(200, body));
      assert.equal(error.code, 'upstream_invalid_response', body);
    }
  });
});
