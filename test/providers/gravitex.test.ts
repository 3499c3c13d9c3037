import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gravitex } from '../../src/providers/gravitex/index.js';
import { COMMON_STATUS_WORDS, StatusTable } from '../../src/providers/normalize.js';

const knownTaskStatus = (word: string) => new StatusTable(COMMON_STATUS_WORDS).known(word);
import type { InterpretContext } from '../../src/providers/define.js';
import { adapterHarness, answer, runLookup } from '../helpers/adapter.js';

const TASK_ID = 'task_Q3x9Lm2Vb7Kp4Rt8Ns1Wd6Yh0Jc5Fg2A';
const LEGACY_TASK_ID = 'task_L8k7J6h5G4f3D2s1A0p9O8i7U6y5T4r3';
const DOCS_TASK_ID = 'video_69095b4ce0048190893a01510c0c98b0';
const context: InterpretContext = { nativeId: TASK_ID, baseUrl: 'https://api.gravitex.ai' };

const { fixture, interpretError, assertThrowsCode } = adapterHarness(gravitex, context);

describe('gravitex definition', () => {
  it('has the documented name, env prefix, base URL and a poll cadence of at least 5 s', () => {
    assert.equal(gravitex.name, 'gravitex');
    assert.deepEqual(gravitex.credentials, [{ setting: 'apiKey', env: 'GRAVITEX_API_KEY', secret: true }]);
    assert.equal(gravitex.defaultBaseUrl, 'https://api.gravitex.ai');
    assert.equal(gravitex.cadenceMs, 5000);
  });

  it('puts the URL-encoded native id into the status path', () => {
    assert.equal(gravitex.taskPath(DOCS_TASK_ID), `/v1/video/generations/${DOCS_TASK_ID}`);
    assert.equal(gravitex.taskPath('a/b c'), '/v1/video/generations/a%2Fb%20c');
  });

  it('authenticates with a Bearer key', async () => {
    const { requests } = await runLookup(gravitex, 'abc', () => answer(200, fixture('documented-queued')), { credentials: { apiKey: 'sk-abc' } });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.headers['authorization'], 'Bearer sk-abc');
    assert.equal(requests[0]!.url, `${gravitex.defaultBaseUrl}${gravitex.taskPath('abc')}`);
  });
});

describe('gravitex variant 1 (documented flat)', () => {
  it('maps a queued task', () => {
    assert.deepEqual(gravitex.interpret(answer(200, fixture('documented-queued')), context), {
      provider_task_id: DOCS_TASK_ID,
      status: 'queued',
      provider_status: 'queued',
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

  it('maps a succeeded task with its url as one video output', () => {
    assert.deepEqual(gravitex.interpret(answer(200, fixture('documented-succeeded')), context), {
      provider_task_id: DOCS_TASK_ID,
      status: 'succeeded',
      provider_status: 'succeeded',
      progress: 100,
      url: 'https://gravitex-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4',
      outputs: [{ type: 'video', url: 'https://gravitex-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4' }],
      error: null,
      model: null,
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('maps a failure with a numeric error code to a string code', () => {
    const state = gravitex.interpret(answer(200, fixture('documented-failed')), context);
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.error, { code: '400', message: 'Prompt contains inappropriate content' });
    assert.equal(state.url, null);
  });

  it('lets an image format hint the output type', () => {
    const body = { task_id: DOCS_TASK_ID, status: 'succeeded', format: 'PNG', url: 'https://cdn.example/frame.png' };
    const state = gravitex.interpret(answer(200, body), context);
    assert.deepEqual(state.outputs, [{ type: 'image', url: 'https://cdn.example/frame.png' }]);
  });
});

describe('gravitex variant 2 (wrapped, what the server sends)', () => {
  it('maps a completed task with Unix-seconds times and the model', () => {
    assert.deepEqual(gravitex.interpret(answer(200, fixture('wrapped-completed')), context), {
      provider_task_id: TASK_ID,
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: 'https://files.gravitex-cdn.example/v/task_Q3x9.mp4?sig=a1b2',
      outputs: [{ type: 'video', url: 'https://files.gravitex-cdn.example/v/task_Q3x9.mp4?sig=a1b2' }],
      error: null,
      model: 'veo-3.1-fast',
      created_at: '2026-05-26T11:08:41Z',
      completed_at: '2026-05-26T11:10:22Z',
      expires_at: null,
    });
  });

  it('keeps the integer progress of a running task', () => {
    const state = gravitex.interpret(answer(200, fixture('wrapped-in-progress')), context);
    assert.equal(state.status, 'in_progress');
    assert.equal(state.progress, 37);
    assert.equal(state.created_at, '2026-05-26T11:08:41Z');
  });

  it('maps a failure whose code is a string', () => {
    const state = gravitex.interpret(answer(200, fixture('wrapped-failed')), context);
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.error, { code: 'failed', message: 'task failed' });
    assert.equal(state.progress, 100);
    assert.equal(state.completed_at, '2026-05-26T11:09:50Z');
  });

  it('maps status "unknown" to in_progress as a word of the mapping (not reported as unmapped)', () => {
    const state = gravitex.interpret(answer(200, fixture('wrapped-unknown')), context);
    assert.equal(state.status, 'in_progress');
    assert.equal(state.provider_status, 'unknown');
    assert.equal(knownTaskStatus(state.provider_status), 'in_progress');
  });

  it('maps the channel word "processing" and takes the id from data.id', () => {
    const state = gravitex.interpret(answer(200, fixture('wrapped-channel-processing')), context);
    assert.equal(state.status, 'in_progress');
    assert.equal(state.provider_status, 'processing');
    assert.equal(state.provider_task_id, 'task_M1n2B3v4C5x6Z7l8K9j0H1g2F3d4S5a6');
    assert.equal(state.model, 'kling-v2');
    assert.equal(state.progress, 55);
  });

  it('keeps a url pointing back at gravitex /v1/videos/{id}/content as is', () => {
    const state = gravitex.interpret(answer(200, fixture('wrapped-self-content-url')), context);
    assert.equal(state.url, `https://api.gravitex.ai/v1/videos/${TASK_ID}/content`);
    assert.deepEqual(state.outputs, [{ type: 'video', url: `https://api.gravitex.ai/v1/videos/${TASK_ID}/content` }]);
  });

  it('falls back from url to video_url to result_url', () => {
    const urls = { url: '', video_url: 'https://cdn.example/v.mp4', result_url: 'https://cdn.example/r.mp4' };
    const data = { task_id: TASK_ID, status: 'completed', ...urls };
    assert.equal(gravitex.interpret(answer(200, { code: 'success', data }), context).url, 'https://cdn.example/v.mp4');
    const onlyResult = { task_id: TASK_ID, status: 'completed', result_url: urls.result_url };
    const state = gravitex.interpret(answer(200, { code: 'success', data: onlyResult }), context);
    assert.equal(state.url, 'https://cdn.example/r.mp4');
  });

  it('resolves a relative result URL against the base URL', () => {
    const data = { task_id: TASK_ID, status: 'completed', url: `/v1/videos/${TASK_ID}/content` };
    const simulatorContext = { ...context, baseUrl: 'http://127.0.0.1:4010' };
    const state = gravitex.interpret(answer(200, { code: 'success', data }), simulatorContext);
    assert.equal(state.url, `http://127.0.0.1:4010/v1/videos/${TASK_ID}/content`);
  });

  it('rejects a completed task without any result URL as upstream_invalid_response', () => {
    const withoutUrl = { code: 'success', data: { task_id: TASK_ID, status: 'completed' } };
    assertThrowsCode(answer(200, withoutUrl), 'upstream_invalid_response');
    const ftpUrl = { task_id: TASK_ID, status: 'succeeded', url: 'ftp://files.example/v.mp4' };
    assertThrowsCode(answer(200, ftpUrl), 'upstream_invalid_response');
  });
});

describe('gravitex variant 3 (legacy DTO in the wrapper)', () => {
  it('maps IN_PROGRESS with a "30%" progress and submit_time', () => {
    assert.deepEqual(gravitex.interpret(answer(200, fixture('legacy-dto-in-progress')), context), {
      provider_task_id: LEGACY_TASK_ID,
      status: 'in_progress',
      provider_status: 'IN_PROGRESS',
      progress: 30,
      url: null,
      outputs: [],
      error: null,
      model: null,
      created_at: '2026-05-26T11:08:41Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('maps NOT_START to queued', () => {
    const state = gravitex.interpret(answer(200, fixture('legacy-dto-not-start')), context);
    assert.equal(state.status, 'queued');
    assert.equal(state.provider_status, 'NOT_START');
    assert.equal(state.progress, 0);
  });

  it('maps SUCCESS with result_url and finish_time', () => {
    assert.deepEqual(gravitex.interpret(answer(200, fixture('legacy-dto-success')), context), {
      provider_task_id: LEGACY_TASK_ID,
      status: 'succeeded',
      provider_status: 'SUCCESS',
      progress: 100,
      url: 'https://files.gravitex-cdn.example/legacy/task_L8k7.mp4',
      outputs: [{ type: 'video', url: 'https://files.gravitex-cdn.example/legacy/task_L8k7.mp4' }],
      error: null,
      model: null,
      created_at: '2026-05-26T11:08:41Z',
      completed_at: '2026-05-26T11:11:40Z',
      expires_at: null,
    });
  });

  it('maps FAILURE with fail_reason to a task_failed error', () => {
    const state = gravitex.interpret(answer(200, fixture('legacy-dto-failure')), context);
    assert.equal(state.status, 'failed');
    assert.equal(state.provider_status, 'FAILURE');
    assert.deepEqual(state.error, { code: 'task_failed', message: 'upstream channel rejected the prompt' });
    assert.equal(state.completed_at, '2026-05-26T11:09:20Z');
  });
});

describe('gravitex status words', () => {
  it('maps canceled and cancelled to canceled without an error', () => {
    for (const word of ['canceled', 'cancelled']) {
      const body = { task_id: TASK_ID, status: word, error: { code: 'canceled_by_user', message: 'canceled' } };
      const state = gravitex.interpret(answer(200, body), context);
      assert.equal(state.status, 'canceled');
      assert.equal(state.error, null);
    }
  });

  it('answers in_progress for an unmapped word and keeps it (the client reports it: metrics.test.ts)', () => {
    const body = { code: 'success', data: { task_id: TASK_ID, status: 'WEIRD_STATE' } };
    const state = gravitex.interpret(answer(200, body), context);
    assert.equal(state.status, 'in_progress');
    assert.equal(state.provider_status, 'WEIRD_STATE');
    assert.equal(knownTaskStatus(state.provider_status), undefined);
  });
});

describe('gravitex wrapped answers without a task', () => {
  it('maps a 200 with code task_not_exist to task_not_found', () => {
    assertThrowsCode(answer(200, fixture('error-400-task-not-exist')), 'task_not_found');
  });

  it('maps a 200 with another error code and no data to upstream_error', () => {
    assertThrowsCode(answer(200, { code: 'get_channel_failed', message: 'no channel', data: null }), 'upstream_error');
  });

  it('maps "success" without data, or an object with neither status nor wrapper, to upstream_invalid_response', () => {
    assertThrowsCode(answer(200, { code: 'success', message: '', data: null }), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { code: 'success', data: { task_id: TASK_ID } }), 'upstream_invalid_response');
    assertThrowsCode(answer(200, {}), 'upstream_invalid_response');
    assertThrowsCode(answer(200, '[{"status":"queued"}]'), 'upstream_invalid_response');
    assertThrowsCode(answer(200, 'null'), 'upstream_invalid_response');
    assertThrowsCode(answer(200, '{"task_id": "x", "status": "queued"'), 'upstream_invalid_response');
  });
});

describe('gravitex HTTP errors', () => {
  it('maps the real 400 task_not_exist and the documented 404 to task_not_found', () => {
    assertThrowsCode(answer(400, fixture('error-400-task-not-exist')), 'task_not_found');
    assertThrowsCode(answer(404, fixture('error-404-docs')), 'task_not_found');
    const openAiForm = { error: { message: 'task_not_exist', type: 'invalid_request_error', code: 'task_not_exist' } };
    assertThrowsCode(answer(400, openAiForm), 'task_not_found');
  });

  it('maps another 400 to upstream_error', () => {
    assertThrowsCode(answer(400, fixture('error-400-invalid-request')), 'upstream_error');
  });

  it('maps the 401 form and a 403 to upstream_auth_failed', () => {
    assertThrowsCode(answer(401, fixture('error-401')), 'upstream_auth_failed');
    const banned = { error: { message: 'account banned', type: 'api_error', code: '' } };
    assertThrowsCode(answer(403, banned), 'upstream_auth_failed');
  });

  it('maps 429 to upstream_rate_limited, with Retry-After in seconds or as an HTTP date', () => {
    const saturated = fixture('error-429-saturated');
    assert.equal(assertThrowsCode(answer(429, saturated, { 'retry-after': '7' }), 'upstream_rate_limited').retryAfter, 7);
    assert.equal(assertThrowsCode(answer(429, saturated), 'upstream_rate_limited').retryAfter, 5);
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    const fromDate = assertThrowsCode(answer(429, '', { 'Retry-After': inAMinute }), 'upstream_rate_limited').retryAfter;
    assert.ok(fromDate !== undefined && fromDate >= 58 && fromDate <= 60, `retryAfter ${String(fromDate)}`);
  });

  it('maps 500, 503 and 418 to upstream_error', () => {
    for (const statusCode of [500, 503, 418]) {
      const error = assertThrowsCode(answer(statusCode, '<html>oops</html>'), 'upstream_error');
      assert.equal(error.detail, `gravitex answered HTTP ${statusCode}`);
    }
  });

  it('never puts the upstream body into the error detail or message', () => {
    const marker = 'sk-live-SECRET-MARKER-4f9a';
    const bodies = [
      { statusCode: 401, body: { error: { message: marker, type: 'api_error', code: '' } } },
      { statusCode: 400, body: { code: 'task_not_exist', message: marker, data: null } },
      { statusCode: 429, body: { error: { message: marker } } },
      { statusCode: 502, body: marker },
      { statusCode: 200, body: `{"task_id": "${marker}"` },
      { statusCode: 200, body: { code: marker, message: marker, data: null } },
      { statusCode: 200, body: { task_id: marker, status: 'succeeded', url: `ftp://files.example/${marker}` } },
    ];
    for (const { statusCode, body } of bodies) {
      const error = interpretError(answer(statusCode, body));
      assert.ok(!error.detail.includes(marker), `detail leaks the body for HTTP ${statusCode}: ${error.detail}`);
      assert.ok(!error.message.includes(marker), `message leaks the body for HTTP ${statusCode}`);
    }
  });
});
