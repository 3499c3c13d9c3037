/**
 * The fal adapter against recorded shapes: the status call, then (once COMPLETED) the
 * result call, under one lookup; every status word, result shape and failure shape.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { fal } from '../../src/providers/fal/index.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_WITHOUT_DETAILS } from '../../src/providers/normalize.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup, type MadeRequest } from '../helpers/adapter.js';

const REQUEST_ID = '6f1c2b7e-3d4a-4b8e-9c2f-5a1d7e0b4c93';
const MODEL_ID = 'fal-ai/kling-video/v2.5-turbo/pro/image-to-video';
const ID = `${MODEL_ID}/${REQUEST_ID}`;
const BASE_URL = 'https://queue.fal.run';
const STATUS_URL = `${BASE_URL}/fal-ai/kling-video/requests/${REQUEST_ID}/status`;
const RESULT_URL = `${BASE_URL}/fal-ai/kling-video/requests/${REQUEST_ID}`;

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/fal/${name}.json`, import.meta.url), 'utf8');
}

/** Answers the status call with `status` and the result call with `result` (which must then be given). */
function queue(status: UpstreamResponse, result?: UpstreamResponse) {
  return (request: MadeRequest): UpstreamResponse => {
    if (request.url.endsWith('/status')) return status;
    assert.ok(result !== undefined, `a result call was made: ${request.url}`);
    return result;
  };
}

const completed = (result: UpstreamResponse) => queue(answer(200, fixture('status-completed')), result);
const completedWith = (statusCode: number, body: string | object, headers: UpstreamResponse['headers'] = {}) =>
  runLookup(fal, ID, completed(answer(statusCode, body, headers)));

describe('fal definition', () => {
  it('reads FAL_KEY, asks queue.fal.run every second, and claims no default routing rule', () => {
    assert.equal(fal.name, 'fal');
    assert.deepEqual(fal.credentials, [{ setting: 'apiKey', env: 'FAL_KEY', secret: true }]);
    assert.equal(fal.defaultBaseUrl, 'https://queue.fal.run');
    assert.equal(fal.cadenceMs, 1000);
    assert.deepEqual(fal.idRules, []);
    assert.equal(fal.expand, undefined);
  });

  it('has its own status words', () => {
    assert.deepEqual(fal.statuses, {
      queued: ['IN_QUEUE'],
      in_progress: ['IN_PROGRESS'],
      succeeded: ['COMPLETED'],
      failed: ['FAILED'],
      canceled: ['CANCELED', 'CANCELLED'],
    });
  });

  it('takes a model id (owner/alias, namespace/owner/alias, then any subpath) and a request UUID', () => {
    const { pattern, example } = fal.nativeIds;
    assert.equal(example, ID);
    for (const id of [
      ID,
      `fal-ai/veo3/${REQUEST_ID}`,
      `fal-ai/flux/dev/${REQUEST_ID.toUpperCase()}`,
      `workflows/fal-ai/my-flow/${REQUEST_ID}`,
      `comfy/acme/upscale/fast/v1.5/${REQUEST_ID}`,
      `fal-ai/wan/v2.2-a14b/text-to-video/lora/${REQUEST_ID}`,
    ]) {
      assert.ok(pattern.test(id), id);
    }
    for (const id of [
      REQUEST_ID,
      `fal-ai/${REQUEST_ID}`,
      `workflows/fal-ai/${REQUEST_ID}`,
      `comfy/acme/${REQUEST_ID}`,
      `fal-ai/kling-video/not-a-uuid`,
      `fal-ai/kling-video/${REQUEST_ID}/status`,
      `fal-ai/../${REQUEST_ID}`,
      `fal-ai/kling-video/./${REQUEST_ID}`,
      `fal-ai/kling-video/../x/${REQUEST_ID}`,
      `fal-ai//kling-video/${REQUEST_ID}`,
      `fal-ai/kling video/${REQUEST_ID}`,
      `fal-ai/kling:video/${REQUEST_ID}`,
      `/fal-ai/kling-video/${REQUEST_ID}`,
      `fal-ai/kling-video/${REQUEST_ID.slice(0, -1)}`,
    ]) {
      assert.ok(!pattern.test(id), id);
    }
  });

  it('is reached by a qualified id only; a fal id of another form is a 400 naming the form', () => {
    const router = new Router(loadConfig({}).routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    assert.deepEqual(router.resolve(`fal:${ID}`).candidates, [{ provider: 'fal', nativeId: ID }]);
    assert.throws(() => router.resolve(ID), (error) => error instanceof GatewayError && error.code === 'no_provider_for_task_id');
    assert.throws(
      () => router.resolve(`fal:${REQUEST_ID}`),
      (error) =>
        error instanceof GatewayError &&
        error.code === 'invalid_task_id' &&
        error.detail === `The id does not have the form its provider uses: a fal task id is the model id as submitted, then "/" and the request id (a UUID), e.g. ${ID}.`,
    );
  });
});

describe('fal requests', () => {
  it('a running request: one status call, with Authorization: Key, to the queue path of the app', async () => {
    const { state, requests } = await runLookup(fal, ID, queue(answer(202, fixture('status-in-queue'))), { credentials: { apiKey: 'k-id:k-secret' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.headers['authorization'], request.template]),
      [['GET', STATUS_URL, 'Key k-id:k-secret', '/{app}/requests/{request_id}/status']],
    );
    assert.deepEqual(state, {
      provider_task_id: ID,
      status: 'queued',
      provider_status: 'IN_QUEUE',
      progress: null,
      url: null,
      outputs: [],
      error: null,
      model: MODEL_ID,
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('a completed request: the status call, then the result call, both with the key, and nothing else', async () => {
    const { requests } = await runLookup(fal, ID, completed(answer(200, fixture('result-video'))), { credentials: { apiKey: 'k-id:k-secret' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.headers['authorization'], request.template]),
      [
        ['GET', STATUS_URL, 'Key k-id:k-secret', '/{app}/requests/{request_id}/status'],
        ['GET', RESULT_URL, 'Key k-id:k-secret', '/{app}/requests/{request_id}'],
      ],
    );
  });

  it('computes the queue path from two segments, three under workflows/ and comfy/, and never sends the subpath', async () => {
    const cases: Array<[string, string]> = [
      [`fal-ai/veo3/${REQUEST_ID}`, 'fal-ai/veo3'],
      [`fal-ai/flux/dev/${REQUEST_ID}`, 'fal-ai/flux'],
      [ID, 'fal-ai/kling-video'],
      [`workflows/fal-ai/my-flow/${REQUEST_ID}`, 'workflows/fal-ai/my-flow'],
      [`workflows/fal-ai/my-flow/v2/extra/${REQUEST_ID}`, 'workflows/fal-ai/my-flow'],
      [`comfy/acme/upscale/fast/${REQUEST_ID}`, 'comfy/acme/upscale'],
      // Only the first segment names a namespace: `workflows` further in is a subpath.
      [`acme/workflows/comfy/${REQUEST_ID}`, 'acme/workflows'],
    ];
    for (const [id, app] of cases) {
      const { requests, state } = await runLookup(fal, id, completed(answer(200, fixture('result-video'))));
      assert.deepEqual(
        requests.map((request) => request.url),
        [`${BASE_URL}/${app}/requests/${REQUEST_ID}/status`, `${BASE_URL}/${app}/requests/${REQUEST_ID}`],
        id,
      );
      assert.equal(state.model, id.slice(0, id.lastIndexOf('/')));
      assert.equal(state.provider_task_id, id);
    }
  });

  it("keeps the base URL's own path", async () => {
    const { requests } = await runLookup(fal, ID, queue(answer(202, fixture('status-in-progress'))), { baseUrl: 'https://proxy.example/fal' });
    assert.equal(requests[0]?.url, `https://proxy.example/fal/fal-ai/kling-video/requests/${REQUEST_ID}/status`);
  });
});

describe('fal status words', () => {
  it('IN_QUEUE → queued and IN_PROGRESS → in_progress, answered with 202 or 200, no progress figure', async () => {
    for (const statusCode of [200, 202]) {
      const queued = await runLookup(fal, ID, queue(answer(statusCode, fixture('status-in-queue'))));
      assert.deepEqual([queued.state.status, queued.state.provider_status, queued.state.progress], ['queued', 'IN_QUEUE', null]);
      const running = await runLookup(fal, ID, queue(answer(statusCode, fixture('status-in-progress'))));
      assert.deepEqual([running.state.status, running.state.provider_status, running.state.progress, running.requests.length], ['in_progress', 'IN_PROGRESS', null, 1]);
    }
  });

  it('CANCELLED and CANCELED → canceled, without a result call', async () => {
    const cancelled = await runLookup(fal, ID, queue(answer(200, fixture('status-cancelled'))));
    assert.deepEqual([cancelled.state.status, cancelled.state.provider_status, cancelled.state.error, cancelled.requests.length], ['canceled', 'CANCELLED', null, 1]);
    const canceled = await runLookup(fal, ID, queue(answer(200, { status: 'CANCELED', request_id: REQUEST_ID })));
    assert.equal(canceled.state.status, 'canceled');
  });

  it('a word outside the table is in_progress, kept, and asks for no result', async () => {
    const { state, requests } = await runLookup(fal, ID, queue(answer(202, { status: 'PAUSED', request_id: REQUEST_ID })));
    assert.deepEqual([state.status, state.provider_status, requests.length], ['in_progress', 'PAUSED', 1]);
  });
});

describe('fal results', () => {
  it("maps docs/providers/fal.md's example: COMPLETED, then the result's video", async () => {
    const { state } = await runLookup(fal, ID, completed(answer(200, fixture('result-video'))));
    assert.deepEqual(state, {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'COMPLETED',
      progress: 100,
      url: 'https://v3.fal.media/files/rabbit/Xq1u7Yp2Lk9dVb3N_out.mp4',
      outputs: [{ type: 'video', url: 'https://v3.fal.media/files/rabbit/Xq1u7Yp2Lk9dVb3N_out.mp4' }],
      error: null,
      model: MODEL_ID,
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('reads every file key: videos[], image, images[], audio, audio_file', async () => {
    const outputsOf = async (name: string) => (await runLookup(fal, ID, completed(answer(200, fixture(name))))).state.outputs;
    assert.deepEqual(await outputsOf('result-videos'), [
      { type: 'video', url: 'https://v3.fal.media/files/koala/a1_take1.mp4' },
      { type: 'video', url: 'https://v3b.fal.media/files/koala/a1_take2.webm' },
    ]);
    assert.deepEqual(await outputsOf('result-image'), [{ type: 'image', url: 'https://v3.fal.media/files/zebra/Vb3N_upscaled.png' }]);
    assert.deepEqual(await outputsOf('result-images'), [
      { type: 'image', url: 'https://v3.fal.media/files/lion/p0.jpeg' },
      { type: 'image', url: 'https://v3.fal.media/files/lion/p1.jpeg' },
    ]);
    assert.deepEqual(await outputsOf('result-audio'), [{ type: 'audio', url: 'https://v3.fal.media/files/panda/speech.mp3' }]);
    assert.deepEqual(await outputsOf('result-audio-file'), [{ type: 'audio', url: 'https://v3.fal.media/files/tiger/track.wav' }]);
  });

  it("content_type decides a file's type when present: video/*, image/*, audio/*, else file; url is the first video", async () => {
    const { state } = await runLookup(fal, ID, completed(answer(200, fixture('result-content-types'))));
    assert.deepEqual(state.outputs, [
      { type: 'image', url: 'https://v3.fal.media/files/owl/preview.gif' },
      { type: 'file', url: 'https://v3.fal.media/files/owl/mesh.zip' },
      { type: 'video', url: 'https://v3.fal.media/files/owl/clip.mp4' },
      { type: 'audio', url: 'https://v3.fal.media/files/owl/voice.ogg' },
    ]);
    assert.equal(state.url, 'https://v3.fal.media/files/owl/clip.mp4');
  });

  it('skips files without a usable URL; a result with no file left is upstream_invalid_response', async () => {
    const { state } = await completedWith(200, { video: { url: 'data:video/mp4;base64,AAAA' }, images: [null, 7, { url: '' }, { url: 'https://v3.fal.media/x.png' }] });
    assert.deepEqual(state.outputs, [{ type: 'image', url: 'https://v3.fal.media/x.png' }]);
    for (const body of [{ seed: 42 }, { video: 'https://v3.fal.media/x.mp4' }, { videos: [] }]) {
      const error = await lookupError(fal, ID, completed(answer(200, body)));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(body));
    }
  });

  it('a result that is not a JSON object is upstream_invalid_response', async () => {
    for (const body of ['<html>oops</html>', '[]', '"done"', '']) {
      assert.equal((await lookupError(fal, ID, completed(answer(200, body)))).code, 'upstream_invalid_response', body);
    }
  });
});

describe('fal failures', () => {
  it('COMPLETED with an error on the status body: failed with its error_type, and no result call', async () => {
    const { state, requests } = await runLookup(fal, ID, queue(answer(200, fixture('status-completed-error'))));
    assert.deepEqual([state.status, state.provider_status, state.error, state.outputs], [
      'failed',
      'COMPLETED',
      { code: 'runner_server_error', message: 'Internal error on the runner' },
      [],
    ]);
    assert.equal(requests.length, 1);
    const untyped = await runLookup(fal, ID, queue(answer(200, { status: 'COMPLETED', error: 'Generation failed' })));
    assert.deepEqual(untyped.state.error, { code: 'task_failed', message: 'Generation failed' });
  });

  it('FAILED: failed with the status body\'s error, or the generic one; no result call', async () => {
    const { state, requests } = await runLookup(fal, ID, queue(answer(200, fixture('status-failed'))));
    assert.deepEqual([state.status, state.provider_status, state.error, requests.length], [
      'failed',
      'FAILED',
      { code: 'task_failed', message: 'Runner disconnected during processing' },
      1,
    ]);
    const bare = await runLookup(fal, ID, queue(answer(200, { status: 'FAILED' })));
    assert.deepEqual(bare.state.error, FAILURE_WITHOUT_DETAILS);
  });

  it('a 422 with a list detail: the first item\'s type and msg', async () => {
    const { state, requests } = await completedWith(422, fixture('error-422-detail-list'));
    assert.deepEqual([state.status, state.provider_status, state.error, state.url, requests.length], [
      'failed',
      'COMPLETED',
      { code: 'content_policy_violation', message: 'content flagged' },
      null,
      2,
    ]);
  });

  it('a 4xx with a string detail: task_failed and the detail', async () => {
    assert.deepEqual((await completedWith(422, fixture('error-422-detail-string'))).state.error, { code: 'task_failed', message: 'Prompt is too long for this model.' });
    assert.deepEqual((await completedWith(400, { detail: 'Unsupported image format' })).state.error, { code: 'task_failed', message: 'Unsupported image format' });
  });

  it('a request error fal typed, at any status: failed with X-Fal-Error-Type, else error_type', async () => {
    const timeout = await completedWith(504, fixture('error-504-request-timeout'), { 'x-fal-error-type': 'request_timeout' });
    assert.deepEqual([timeout.state.status, timeout.state.error], ['failed', { code: 'request_timeout', message: 'Request timed out' }]);
    // The retried-then-given-up infrastructure errors are final once the queue says COMPLETED.
    const scheduling = await completedWith(503, fixture('error-503-runner-scheduling-failure'));
    assert.deepEqual(scheduling.state.error, { code: 'runner_scheduling_failure', message: 'No runner could be allocated to handle the request' });
    const disconnected = await completedWith(503, 'upstream connect error', { 'X-Fal-Error-Type': 'runner_disconnected' });
    assert.deepEqual(disconnected.state.error, { code: 'runner_disconnected', message: FAILURE_WITHOUT_DETAILS.message });
    const both = await completedWith(500, { detail: 'Internal error on the runner', error_type: 'internal_error' }, { 'x-fal-error-type': 'runner_server_error' });
    assert.deepEqual(both.state.error, { code: 'runner_server_error', message: 'Internal error on the runner' });
    const typedList = await completedWith(422, fixture('error-422-detail-list'), { 'x-fal-error-type': 'bad_request' });
    assert.deepEqual(typedList.state.error, { code: 'bad_request', message: 'content flagged' });
  });

  it('a 5xx nobody typed, a 404, or a 4xx without detail is fal failing, not the request: upstream_error', async () => {
    for (const [statusCode, body] of [
      [500, { detail: 'Internal Server Error' }],
      [502, '<html><body>502 Bad Gateway</body></html>'],
      [503, ''],
      [404, fixture('error-404')],
      [422, { message: 'unprocessable' }],
      [409, { detail: [] }],
    ] as const) {
      const error = await lookupError(fal, ID, completed(answer(statusCode, body)));
      assert.equal(error.code, 'upstream_error', `${statusCode} ${JSON.stringify(body)}`);
      assert.equal(error.detail, `fal answered HTTP ${statusCode}`);
    }
  });

  it('a 401, 403 or 429 on the result call is about our key or rate, not the request', async () => {
    assert.equal((await lookupError(fal, ID, completed(answer(401, fixture('error-401'))))).code, 'upstream_auth_failed');
    assert.equal((await lookupError(fal, ID, completed(answer(403, fixture('error-403'), { 'x-fal-error-type': 'user_locked' })))).code, 'upstream_auth_failed');
    const limited = await lookupError(fal, ID, completed(answer(429, fixture('error-429'), { 'retry-after': '9' })));
    assert.deepEqual([limited.code, limited.retryAfter], ['upstream_rate_limited', 9]);
  });
});

describe('fal status call errors', () => {
  it('404 → task_not_found, with no result call', async () => {
    const requests: MadeRequest[] = [];
    const error = await lookupError(fal, ID, (request) => {
      requests.push(request);
      return answer(404, fixture('error-404'));
    });
    assert.equal(error.code, 'task_not_found');
    assert.equal(requests.length, 1);
  });

  it('401 and 403 → upstream_auth_failed, 429 → upstream_rate_limited with its Retry-After (5 s without one)', async () => {
    for (const statusCode of [401, 403]) {
      const error = await lookupError(fal, ID, queue(answer(statusCode, fixture(`error-${statusCode}`))));
      assert.equal(error.code, 'upstream_auth_failed');
      assert.doesNotMatch(error.detail, /Key ID|locked/);
    }
    const limited = await lookupError(fal, ID, queue(answer(429, fixture('error-429'), { 'retry-after': '7' })));
    assert.deepEqual([limited.code, limited.retryAfter], ['upstream_rate_limited', 7]);
    assert.equal((await lookupError(fal, ID, queue(answer(429, fixture('error-429'))))).retryAfter, 5);
  });

  it('a 5xx is upstream_error, even typed; a body that is not a status is upstream_invalid_response', async () => {
    const typed = await lookupError(fal, ID, queue(answer(503, fixture('error-503-runner-scheduling-failure'), { 'x-fal-error-type': 'runner_scheduling_failure' })));
    assert.equal(typed.code, 'upstream_error');
    for (const body of ['<html>Just a moment...</html>', { request_id: REQUEST_ID, queue_position: 2 }, { status: 3 }]) {
      assert.equal((await lookupError(fal, ID, queue(answer(200, body)))).code, 'upstream_invalid_response', JSON.stringify(body));
    }
  });
});
