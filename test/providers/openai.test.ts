import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openai } from '../../src/providers/openai/index.js';
import type { InterpretContext } from '../../src/providers/define.js';
import { adapterHarness, answer, runLookup } from '../helpers/adapter.js';

const VIDEO_ID = 'video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5';
const BASE_URL = 'https://api.openai.com';
const context: InterpretContext = { nativeId: VIDEO_ID, baseUrl: BASE_URL };
const CONTENT = `${BASE_URL}/v1/videos/${VIDEO_ID}/content`;

const { fixture, assertThrowsCode } = adapterHarness(openai, context);

describe('openai definition', () => {
  it('has the documented name, env prefix, base URL and the SDKs\' 1 s cadence', () => {
    assert.equal(openai.name, 'openai');
    assert.deepEqual(openai.credentials, [{ setting: 'apiKey', env: 'OPENAI_API_KEY', secret: true }]);
    assert.equal(openai.defaultBaseUrl, undefined, 'OpenAI retired its own Videos API: no default host');
    assert.equal(openai.cadenceMs, 1000);
  });

  it('claims video_ ids second to the provider that relays it (order 11)', () => {
    assert.deepEqual(openai.idRules, [{ prefix: 'video_', order: 11 }]);
  });

  it('puts the URL-encoded native id into the status path', () => {
    assert.equal(openai.taskPath(VIDEO_ID), `/v1/videos/${VIDEO_ID}`);
    assert.equal(openai.taskPath('a/b c'), '/v1/videos/a%2Fb%20c');
  });

  it('authenticates with a Bearer key', async () => {
    const { requests } = await runLookup(openai, 'abc', () => answer(200, fixture('openai-queued')), { credentials: { apiKey: 'sk-proj-abc' }, baseUrl: BASE_URL });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.headers['authorization'], 'Bearer sk-proj-abc');
    assert.equal(requests[0]!.url, `${BASE_URL}${openai.taskPath('abc')}`);
  });
});

describe('openai variant 1 (OpenAI: no URL in the body)', () => {
  it('maps docs/providers/openai.md\'s running example', () => {
    assert.deepEqual(openai.interpret(answer(200, fixture('openai-in-progress')), context), {
      provider_task_id: VIDEO_ID,
      status: 'in_progress',
      provider_status: 'in_progress',
      progress: 33,
      url: null,
      outputs: [],
      error: null,
      model: 'sora-2',
      created_at: '2025-10-08T15:52:52Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('maps a queued video', () => {
    const state = openai.interpret(answer(200, fixture('openai-queued')), context);
    assert.deepEqual([state.status, state.provider_status, state.progress, state.url], ['queued', 'queued', 0, null]);
  });

  it('maps a completed video to the content endpoint (video, then thumbnail) and keeps expires_at', () => {
    assert.deepEqual(openai.interpret(answer(200, fixture('openai-completed')), context), {
      provider_task_id: VIDEO_ID,
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: `${CONTENT}?variant=video`,
      outputs: [
        { type: 'video', url: `${CONTENT}?variant=video` },
        { type: 'image', url: `${CONTENT}?variant=thumbnail` },
      ],
      error: null,
      model: 'sora-2',
      created_at: '2025-10-08T15:52:52Z',
      completed_at: '2025-10-08T15:54:21Z',
      expires_at: '2025-10-09T15:54:21Z',
    });
  });

  it('maps a failure with its error {code, message}', () => {
    const failedId = 'video_68e0b1f4a4c08190a8e7d1b25f3c6a0e0b7c1d2e3f4a5b6c';
    const state = openai.interpret(answer(200, fixture('openai-failed')), { ...context, nativeId: failedId });
    assert.equal(state.status, 'failed');
    assert.equal(state.provider_task_id, failedId);
    assert.deepEqual(state.error, { code: 'moderation_blocked', message: 'Your request was blocked by our moderation system.' });
    assert.deepEqual([state.url, state.outputs, state.model, state.completed_at], [null, [], 'sora-2-pro', '2025-10-08T16:15:05Z']);
  });

  it('keeps the path of a base URL (Azure\'s /openai) and URL-encodes the id in the content URLs', () => {
    const azure = { nativeId: 'video_a/b', baseUrl: 'https://example-resource.openai.azure.com/openai' };
    const state = openai.interpret(answer(200, { id: 'video_a/b', status: 'completed' }), azure);
    assert.deepEqual(state.outputs.map((output) => output.url), [
      'https://example-resource.openai.azure.com/openai/v1/videos/video_a%2Fb/content?variant=video',
      'https://example-resource.openai.azure.com/openai/v1/videos/video_a%2Fb/content?variant=thumbnail',
    ]);
  });
});

describe('openai variant 2 (hosted copies: a public outputs.video_url)', () => {
  const hostedId = 'video_0f9a1c2b3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f506';
  const hosted: InterpretContext = { nativeId: hostedId, baseUrl: 'https://api.together.xyz' };

  it('serves the public URL as is, with no content-endpoint outputs', () => {
    assert.deepEqual(openai.interpret(answer(200, fixture('hosted-completed')), hosted), {
      provider_task_id: hostedId,
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: 'https://api.together.ai/shrt/DwlaBdSakNRFlBxN',
      outputs: [{ type: 'video', url: 'https://api.together.ai/shrt/DwlaBdSakNRFlBxN' }],
      error: null,
      model: 'openai/sora-2',
      created_at: '2025-10-23T08:00:00Z',
      completed_at: '2025-10-23T08:01:32Z',
      expires_at: null,
    });
  });

  it('maps a running hosted video without outputs', () => {
    const state = openai.interpret(answer(200, fixture('hosted-in-progress')), hosted);
    assert.deepEqual([state.status, state.progress, state.outputs], ['in_progress', 60, []]);
  });

  it('falls back to the content endpoint when outputs has no usable URL', () => {
    const state = openai.interpret(answer(200, { id: hostedId, status: 'completed', outputs: 'n/a' }), hosted);
    assert.equal(state.url, `https://api.together.xyz/v1/videos/${hostedId}/content?variant=video`);
  });
});

describe('openai variant 3 (relays: created_at in milliseconds, their own ids)', () => {
  it('maps a completed relay video: milliseconds to whole seconds, content on the relay', () => {
    const relay: InterpretContext = { nativeId: 'sora-2-a1B2c3D4e5F6g7H8', baseUrl: 'https://relay.example' };
    assert.deepEqual(openai.interpret(answer(200, fixture('relay-completed')), relay), {
      provider_task_id: 'sora-2-a1B2c3D4e5F6g7H8',
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: 'https://relay.example/v1/videos/sora-2-a1B2c3D4e5F6g7H8/content?variant=video',
      outputs: [
        { type: 'video', url: 'https://relay.example/v1/videos/sora-2-a1B2c3D4e5F6g7H8/content?variant=video' },
        { type: 'image', url: 'https://relay.example/v1/videos/sora-2-a1B2c3D4e5F6g7H8/content?variant=thumbnail' },
      ],
      error: null,
      model: 'sora-2',
      created_at: '2025-11-05T05:00:00Z',
      completed_at: '2025-11-05T05:01:51Z',
      expires_at: '2025-11-06T05:01:51Z',
    });
  });

  it('maps a queued relay task_… video', () => {
    const relay: InterpretContext = { nativeId: 'task_7Hq2Lm9Xz4Vb8Nc3Kd6Rt1Wy5Pf0Sg2J', baseUrl: 'https://relay.example' };
    const state = openai.interpret(answer(200, fixture('relay-queued')), relay);
    assert.deepEqual([state.provider_task_id, state.status, state.created_at], ['task_7Hq2Lm9Xz4Vb8Nc3Kd6Rt1Wy5Pf0Sg2J', 'queued', '2025-11-05T05:00:00Z']);
  });
});

describe('openai-poll-after-ms', () => {
  it('sets that answer\'s cadence', () => {
    const state = openai.interpret(answer(200, fixture('openai-in-progress'), { 'openai-poll-after-ms': '2500' }), context);
    assert.equal(state.cadenceMs, 2500);
  });

  it('leaves the cadence to the default when absent or not a whole positive number of ms', () => {
    assert.equal(openai.interpret(answer(200, fixture('openai-in-progress')), context).cadenceMs, undefined);
    for (const value of ['0', '-5', '1.5', 'soon', '', '99999999999']) {
      const state = openai.interpret(answer(200, fixture('openai-in-progress'), { 'openai-poll-after-ms': value }), context);
      assert.equal(state.cadenceMs, undefined, value);
    }
  });
});

describe('openai errors', () => {
  it('404 → task_not_found', () => {
    assertThrowsCode(answer(404, fixture('error-404')), 'task_not_found');
  });

  it('401 → upstream_auth_failed, its body kept out of the detail', () => {
    const error = assertThrowsCode(answer(401, fixture('error-401')), 'upstream_auth_failed');
    assert.doesNotMatch(error.detail ?? '', /sk-proj|api-keys/);
  });

  it('403 → upstream_auth_failed', () => {
    assertThrowsCode(answer(403, fixture('error-403')), 'upstream_auth_failed');
  });

  it('429 → upstream_rate_limited with its retry-after, or 5 s without one', () => {
    assert.equal(assertThrowsCode(answer(429, fixture('error-429'), { 'retry-after': '12' }), 'upstream_rate_limited').retryAfter, 12);
    assert.equal(assertThrowsCode(answer(429, fixture('error-429')), 'upstream_rate_limited').retryAfter, 5);
  });

  it('400 (a malformed id) and 5xx → upstream_error', () => {
    assertThrowsCode(answer(400, fixture('error-400-invalid-id')), 'upstream_error');
    assertThrowsCode(answer(500, { error: { message: 'The server had an error', type: 'server_error', param: null, code: null } }), 'upstream_error');
  });

  it('a 200 that is not JSON, or has no status → upstream_invalid_response', () => {
    assertThrowsCode(answer(200, '<html>Just a moment...</html>'), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { id: VIDEO_ID, object: 'video', progress: 10 }), 'upstream_invalid_response');
  });
});
