import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMON_STATUS_WORDS, StatusTable } from '../../src/providers/normalize.js';

const knownTaskStatus = (word: string) => new StatusTable(COMMON_STATUS_WORDS).known(word);
import type { InterpretContext } from '../../src/providers/define.js';
import { adapterHarness, answer, runLookup } from '../helpers/adapter.js';
import { vtrix } from '../../src/providers/vtrix/index.js';

const TASK_ID = 'd758n65e878c73cmdg20';
const context: InterpretContext = { nativeId: TASK_ID, baseUrl: 'https://cloud.vtrix.ai' };

const { fixture, interpretError, assertThrowsCode } = adapterHarness(vtrix, context);

describe('vtrix definition', () => {
  it('has the documented name, env prefix, base URL and 5 s poll cadence', () => {
    assert.equal(vtrix.name, 'vtrix');
    assert.deepEqual(vtrix.credentials, [{ setting: 'apiKey', env: 'VTRIX_API_KEY', secret: true }]);
    assert.equal(vtrix.defaultBaseUrl, 'https://cloud.vtrix.ai');
    assert.equal(vtrix.cadenceMs, 5000);
  });

  it('puts the URL-encoded native id into the status path', () => {
    assert.equal(vtrix.taskPath('d758n65e878c73cmdg20'), '/model/v1/generation/task/d758n65e878c73cmdg20');
    assert.equal(vtrix.taskPath('a/b c'), '/model/v1/generation/task/a%2Fb%20c');
    assert.equal(vtrix.taskPath('../x?y#z'), '/model/v1/generation/task/..%2Fx%3Fy%23z');
  });

  it('authenticates with a Bearer key', async () => {
    const { requests } = await runLookup(vtrix, 'abc', () => answer(200, fixture('current-running')), { credentials: { apiKey: 'vk-123' } });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.headers['authorization'], 'Bearer vk-123');
    assert.equal(requests[0]!.url, `${vtrix.defaultBaseUrl}${vtrix.taskPath('abc')}`);
  });
});

describe('vtrix variant 1 (current flat model API)', () => {
  it('maps a running task with a fractional progress and Unix-seconds creation time', () => {
    assert.deepEqual(vtrix.interpret(answer(200, fixture('current-running')), context), {
      provider_task_id: 'd758n65e878c73cmdg20',
      status: 'in_progress',
      provider_status: 'in_progress',
      progress: 42,
      url: null,
      outputs: [],
      error: null,
      model: 'spark_dance_v2_0',
      created_at: '2026-04-10T14:32:05Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('maps a completed task to succeeded with its video output and progress 100', () => {
    assert.deepEqual(vtrix.interpret(answer(200, fixture('current-completed')), context), {
      provider_task_id: 'd758n65e878c73cmdg20',
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: 'https://cdn.vtrix.ai/outputs/d758n65e878c73cmdg20/output.mp4',
      outputs: [{ type: 'video', url: 'https://cdn.vtrix.ai/outputs/d758n65e878c73cmdg20/output.mp4' }],
      error: null,
      model: 'spark_dance_v2_0',
      created_at: '2026-04-10T14:32:05Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('turns a bare string error into code task_failed', () => {
    const state = vtrix.interpret(answer(200, fixture('current-failed-string-error')), context);
    assert.equal(state.status, 'failed');
    assert.equal(state.provider_status, 'failed');
    assert.equal(state.provider_task_id, 'd758n65e878c73cmdg21');
    assert.deepEqual(state.error, { code: 'task_failed', message: 'Video generation failed' });
    assert.equal(state.url, null);
    assert.equal(state.progress, null);
  });

  it('turns a numeric error code into a string', () => {
    const state = vtrix.interpret(answer(200, fixture('current-failed-object-error')), context);
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.error, { code: '2014001', message: 'Input image failed the content check' });
  });

  it('reads the message of an error object from error_message', () => {
    const state = vtrix.interpret(answer(200, fixture('current-failed-error-message')), context);
    assert.deepEqual(state.error, {
      code: 'MODEL_OVERLOADED',
      message: 'The model is overloaded, submit again later',
    });
  });

  it('gives a failed task without any error detail the generic failure error', () => {
    const state = vtrix.interpret(answer(200, { id: 'd758n65e878c73cmdg24', status: 'failed' }), context);
    assert.deepEqual(state.error, {
      code: 'task_failed',
      message: 'The provider reported a failure without details',
    });
  });
});

describe('vtrix variant 2 (CLI-documented)', () => {
  it('maps pending/processing with task_id and ISO times', () => {
    assert.deepEqual(vtrix.interpret(answer(200, fixture('cli-processing')), context), {
      provider_task_id: 'task_abc001',
      status: 'in_progress',
      provider_status: 'processing',
      progress: null,
      url: null,
      outputs: [],
      error: null,
      model: 'spark_dance_v2_0',
      created_at: '2026-04-10T14:32:05Z',
      completed_at: null,
      expires_at: null,
    });
    const pending = vtrix.interpret(answer(200, { task_id: 'task_abc001', status: 'pending' }), context);
    assert.equal(pending.status, 'queued');
    assert.equal(pending.provider_status, 'pending');
  });

  it('maps the documented completed example with a video_url content item', () => {
    assert.deepEqual(vtrix.interpret(answer(200, fixture('cli-completed')), context), {
      provider_task_id: 'task_abc001',
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: 'https://cdn.vtrix.ai/outputs/task_abc001/output.mp4',
      outputs: [{ type: 'video', url: 'https://cdn.vtrix.ai/outputs/task_abc001/output.mp4' }],
      error: null,
      model: 'spark_dance_v2_0',
      created_at: '2026-04-10T14:32:05Z',
      completed_at: '2026-04-10T14:32:51Z',
      expires_at: null,
    });
  });
});

describe('vtrix variant 3 (legacy wrapped)', () => {
  it('reads the task status from data.status, a percentage progress and millisecond times', () => {
    assert.deepEqual(vtrix.interpret(answer(200, fixture('legacy-wrapped-in-queue')), context), {
      provider_task_id: 'd5u5obte8783ap44qtj0',
      status: 'queued',
      provider_status: 'in_queue',
      progress: 10,
      url: null,
      outputs: [],
      error: null,
      model: null,
      created_at: '2026-01-09T23:06:40Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('lists every output in order and picks the first video as url', () => {
    const state = vtrix.interpret(answer(200, fixture('legacy-wrapped-success')), context);
    assert.equal(state.status, 'succeeded');
    assert.equal(state.provider_status, 'success');
    assert.equal(state.url, 'https://cdn.vtrix.ai/outputs/d5u5obte8783ap44qtj0/output.mp4');
    assert.deepEqual(state.outputs, [
      { type: 'image', url: 'https://cdn.vtrix.ai/outputs/d5u5obte8783ap44qtj0/cover.png' },
      { type: 'video', url: 'https://cdn.vtrix.ai/outputs/d5u5obte8783ap44qtj0/output.mp4' },
      { type: 'audio', url: 'https://cdn.vtrix.ai/outputs/d5u5obte8783ap44qtj0/track.mp3' },
    ]);
  });

  it('classifies an envelope without data by its own status', () => {
    assertThrowsCode(answer(200, { data: null, status: { code: 404, message: 'task not found' } }), 'task_not_found');
    assertThrowsCode(answer(200, { status: { code: 500, message: 'internal error' } }), 'upstream_error');
    assertThrowsCode(answer(200, { data: null, status: { code: 200, message: 'success' } }), 'upstream_invalid_response');
  });
});

describe('vtrix result URLs and outputs', () => {
  it('resolves a relative result URL against the base URL', () => {
    const body = { id: TASK_ID, status: 'completed', output: [{ content: [{ type: 'video', url: '/files/out.mp4' }] }] };
    const state = vtrix.interpret(answer(200, body), { ...context, baseUrl: 'https://vtrix.internal:8443' });
    assert.equal(state.url, 'https://vtrix.internal:8443/files/out.mp4');
    assert.deepEqual(state.outputs, [{ type: 'video', url: 'https://vtrix.internal:8443/files/out.mp4' }]);
  });

  it('types unfamiliar content as file and drops items without an http(s) URL', () => {
    const body = {
      id: 'd758n65e878c73cmdg20',
      status: 'completed',
      output: [
        {
          content: [
            { type: 'text', url: 'https://cdn.vtrix.ai/a.txt' },
            { type: 'video', url: 's3://bucket/x.mp4' },
            { type: 'video' },
          ],
        },
      ],
    };
    const state = vtrix.interpret(answer(200, body), context);
    assert.deepEqual(state.outputs, [{ type: 'file', url: 'https://cdn.vtrix.ai/a.txt' }]);
    assert.equal(state.url, 'https://cdn.vtrix.ai/a.txt');
  });

  it('rejects a completed task without any result URL as upstream_invalid_response', () => {
    const dataUrlOutput = [{ content: [{ type: 'video', url: 'data:video/mp4;base64,AAAA' }] }];
    for (const output of [undefined, [], dataUrlOutput]) {
      assertThrowsCode(answer(200, { id: TASK_ID, status: 'completed', output }), 'upstream_invalid_response');
    }
  });
});

describe('vtrix status words', () => {
  it('maps canceled and cancelled to canceled without an error', () => {
    for (const word of ['canceled', 'cancelled', 'CANCELLED']) {
      const state = vtrix.interpret(answer(200, { id: TASK_ID, status: word, error: 'user canceled' }), context);
      assert.equal(state.status, 'canceled');
      assert.equal(state.provider_status, word);
      assert.equal(state.error, null);
    }
  });

  it('keeps an unmapped word as provider_status and answers in_progress (the client reports it: metrics.test.ts)', () => {
    const state = vtrix.interpret(answer(200, { id: TASK_ID, status: 'WEIRD_STATE', progress: 0.5 }), context);
    assert.equal(state.status, 'in_progress');
    assert.equal(state.provider_status, 'WEIRD_STATE');
    assert.equal(state.progress, 50);
    assert.equal(knownTaskStatus(state.provider_status), undefined);
    const known = vtrix.interpret(answer(200, { id: TASK_ID, status: 'unknown' }), context);
    assert.equal(known.status, 'in_progress');
    assert.equal(knownTaskStatus(known.provider_status), 'in_progress');
  });

  it('falls back to the asked-for id when the body carries none', () => {
    const state = vtrix.interpret(answer(200, { status: 'running' }), { ...context, nativeId: 'asked_for' });
    assert.equal(state.provider_task_id, 'asked_for');
  });
});

describe('vtrix malformed 2xx bodies', () => {
  it('answers upstream_invalid_response for non-JSON, arrays, missing or non-string status', () => {
    assertThrowsCode(answer(200, '<html><body>Bad gateway</body></html>'), 'upstream_invalid_response');
    assertThrowsCode(answer(200, ''), 'upstream_invalid_response');
    assertThrowsCode(answer(200, '[]'), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { id: TASK_ID }), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { id: TASK_ID, status: 3 }), 'upstream_invalid_response');
    assertThrowsCode(answer(200, { id: TASK_ID, status: 'completed', output: 'x' }), 'upstream_invalid_response');
  });
});

describe('vtrix HTTP errors', () => {
  it('maps 401 and 403 to upstream_auth_failed', () => {
    assertThrowsCode(answer(401, fixture('error-401')), 'upstream_auth_failed');
    assertThrowsCode(answer(403, { message: 'insufficient balance' }), 'upstream_auth_failed');
  });

  it('maps 429 to upstream_rate_limited with Retry-After, 5 s when absent', () => {
    const told = assertThrowsCode(answer(429, fixture('error-429'), { 'Retry-After': '7' }), 'upstream_rate_limited');
    assert.equal(told.retryAfter, 7);
    assert.equal(assertThrowsCode(answer(429, fixture('error-429')), 'upstream_rate_limited').retryAfter, 5);
  });

  it('maps 404, and a 400/422 saying the task does not exist, to task_not_found', () => {
    assertThrowsCode(answer(404, '{"message":"Not Found"}'), 'task_not_found');
    assertThrowsCode(answer(400, fixture('error-400-task-not-exist')), 'task_not_found');
    assertThrowsCode(answer(422, { error: { code: 'TASK_NOT_FOUND', message: 'No such task' } }), 'task_not_found');
  });

  it('maps another 400, a 418 and a 500 to upstream_error', () => {
    assertThrowsCode(answer(400, fixture('error-400-bad-request')), 'upstream_error');
    assertThrowsCode(answer(418, "I'm a teapot"), 'upstream_error');
    const serverError = assertThrowsCode(answer(500, { message: 'server error' }), 'upstream_error');
    assert.equal(serverError.detail, 'vtrix answered HTTP 500');
  });

  it('never puts the upstream body into the error detail or message', () => {
    const marker = 'sk-live-SECRET-MARKER-4f9a';
    const bodies = [
      { statusCode: 401, body: { message: marker } },
      { statusCode: 429, body: { error: { code: 1002, message: marker } } },
      { statusCode: 404, body: { message: marker } },
      { statusCode: 500, body: { error: marker } },
      { statusCode: 200, body: `<html>${marker}</html>` },
      { statusCode: 200, body: { id: marker, status: 17 } },
      { statusCode: 200, body: { data: null, status: { code: 500, message: marker } } },
    ];
    for (const { statusCode, body } of bodies) {
      const error = interpretError(answer(statusCode, body));
      assert.ok(!error.detail.includes(marker), `detail leaks the body for HTTP ${statusCode}: ${error.detail}`);
      assert.ok(!error.message.includes(marker), `message leaks the body for HTTP ${statusCode}`);
    }
  });
});
