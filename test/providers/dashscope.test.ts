import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { dashscope } from '../../src/providers/dashscope/index.js';
import { linkExpiry, toInstant } from '../../src/providers/dashscope/map.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const TASK_ID = '966cebcd-dedc-4962-af88-0e2b1a7c3f11';
const IMAGE_TASK_ID = '2f8a6c14-9b3e-4d7a-a1c5-6e0f3b2d9c87';
const BASE_URL = 'https://dashscope-intl.aliyuncs.com';
const VIDEO_URL =
  'https://dashscope-result-sh.oss-accelerate.aliyuncs.com/1d/ab/20260501/966cebcd/out.mp4?Expires=1777716478&OSSAccessKeyId=LTAI5tExampleKeyId&Signature=q7nF0Zb3%2BexampleSig%3D';
const IMAGE_URLS = [
  'https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/7d/eb/20260501/c703e801/2f8a6c14-1.png?Expires=1777723879&OSSAccessKeyId=LTAI5tExampleKeyId&Signature=UU0EwyEfZS72exampleSig%3D',
  'https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/7d/eb/20260501/c703e801/2f8a6c14-2.png?Expires=1777723880&OSSAccessKeyId=LTAI5tExampleKeyId&Signature=Vb1FxzfGf83exampleSig%3D',
];
const CONTENT_REVIEW = { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' };

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/dashscope/${name}.json`, import.meta.url), 'utf8');
}

/** Every request gets this answer (a fixture's name: an HTTP 200 with it). */
function upstream(reply: UpstreamResponse | string) {
  return () => (typeof reply === 'string' ? answer(200, fixture(reply)) : reply);
}

describe('dashscope definition', () => {
  it('has its name, DASHSCOPE_API_KEY, the international base URL and the 15 s cadence', () => {
    assert.equal(dashscope.name, 'dashscope');
    assert.deepEqual(dashscope.credentials, [{ setting: 'apiKey', env: 'DASHSCOPE_API_KEY', secret: true }]);
    assert.equal(dashscope.defaultBaseUrl, 'https://dashscope-intl.aliyuncs.com');
    assert.equal(dashscope.cadenceMs, 15_000);
  });

  it('claims UUIDs last among the UUID providers (order 62), with the pattern they share', () => {
    assert.deepEqual(dashscope.idRules, [{ pattern: '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$', order: 62 }]);
  });

  it('accepts UUIDs in any case, and nothing else', () => {
    const { pattern, example } = dashscope.nativeIds;
    for (const id of [example, TASK_ID.toUpperCase(), '00000000-0000-0000-0000-000000000000', 'A8532587-aaaa-BBBB-cccc-0C46B17950D1']) assert.ok(pattern.test(id), id);
    for (const id of ['966cebcd-dedc-4962-af88-0e2b1a7c3f1', '966cebcddedc4962af880e2b1a7c3f11', `${TASK_ID}/x`, 'g66cebcd-dedc-4962-af88-0e2b1a7c3f11', ` ${TASK_ID}`, '']) {
      assert.ok(!pattern.test(id), id);
    }
  });

  it('maps its five task states; UNKNOWN is not one of them', () => {
    assert.deepEqual(dashscope.statuses, { queued: ['PENDING'], in_progress: ['RUNNING'], succeeded: ['SUCCEEDED'], failed: ['FAILED'], canceled: ['CANCELED'] });
  });
});

describe('dashscope lookup: the one GET', () => {
  it('asks GET {base}/api/v1/tasks/{id} once, with the Bearer key, the id out of the span template', async () => {
    const { requests } = await runLookup(dashscope, TASK_ID, upstream('running'), { credentials: { apiKey: 'sk-ds-1' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.template, request.headers]),
      [['GET', `${BASE_URL}/api/v1/tasks/${TASK_ID}`, '/api/v1/tasks/{task_id}', { authorization: 'Bearer sk-ds-1' }]],
    );
  });

  it('keeps the base URL\'s own path and asks for an upper-case id as it is', async () => {
    const id = TASK_ID.toUpperCase();
    const { requests } = await runLookup(dashscope, id, upstream('running'), { baseUrl: 'https://dashscope.aliyuncs.com/relay' });
    assert.equal(requests[0]?.url, `https://dashscope.aliyuncs.com/relay/api/v1/tasks/${id}`);
  });

  it('refuses an id that is not a UUID before asking anything', async () => {
    let asked = 0;
    const error = await lookupError(dashscope, '../../v1/other', () => {
      asked++;
      return answer(200, fixture('running'));
    });
    assert.deepEqual([error.code, asked], ['invalid_task_id', 0]);
  });
});

describe('dashscope task states', () => {
  for (const [name, status, word] of [
    ['pending', 'queued', 'PENDING'],
    ['running', 'in_progress', 'RUNNING'],
    ['canceled', 'canceled', 'CANCELED'],
  ] as const) {
    it(`maps ${word} to ${status}, with no progress, no output and no error`, async () => {
      const { state } = await runLookup(dashscope, TASK_ID, upstream(name));
      assert.deepEqual(
        [state.provider_task_id, state.status, state.provider_status, state.progress, state.url, state.outputs, state.error, state.expires_at],
        [TASK_ID, status, word, null, null, [], null, null],
      );
    });
  }

  it('reads zone-less times as China time (UTC+8): submit_time is created_at, end_time completed_at', async () => {
    const running = await runLookup(dashscope, TASK_ID, upstream('running'));
    assert.deepEqual([running.state.created_at, running.state.completed_at], ['2026-05-01T10:05:15Z', null]);
    const canceled = await runLookup(dashscope, TASK_ID, upstream('canceled'));
    assert.deepEqual([canceled.state.created_at, canceled.state.completed_at], ['2026-05-01T10:05:15Z', '2026-05-01T10:05:40Z']);
  });

  it('matches status words without regard to case, and keeps an unknown word as in_progress', async () => {
    const lower = JSON.stringify({ output: { task_id: TASK_ID, task_status: 'running' } });
    assert.deepEqual((await runLookup(dashscope, TASK_ID, upstream(answer(200, lower)))).state.status, 'in_progress');
    const suspended = JSON.stringify({ output: { task_id: TASK_ID, task_status: 'SUSPENDED' } });
    const { state } = await runLookup(dashscope, TASK_ID, upstream(answer(200, suspended)));
    assert.deepEqual([state.status, state.provider_status], ['in_progress', 'SUSPENDED']);
  });

  it('uses the asked id when the answer names none', async () => {
    const body = JSON.stringify({ output: { task_status: 'PENDING' } });
    assert.equal((await runLookup(dashscope, TASK_ID, upstream(answer(200, body)))).state.provider_task_id, TASK_ID);
  });
});

describe('dashscope results', () => {
  it('a video task: output.video_url is the video, its Expires the expires_at', async () => {
    const { state } = await runLookup(dashscope, TASK_ID, upstream('succeeded-video'));
    assert.deepEqual(state, {
      provider_task_id: TASK_ID,
      status: 'succeeded',
      provider_status: 'SUCCEEDED',
      progress: 100,
      url: VIDEO_URL,
      outputs: [{ type: 'video', url: VIDEO_URL }],
      error: null,
      model: null,
      created_at: '2026-05-01T10:05:15Z',
      completed_at: '2026-05-01T10:07:58Z',
      // The documented link lives exactly 24 h past end_time read as UTC+8.
      expires_at: '2026-05-02T10:07:58Z',
    });
  });

  it('an image task: every output.results[].url an image, the earliest Expires the expires_at', async () => {
    const { state } = await runLookup(dashscope, IMAGE_TASK_ID, upstream('succeeded-image'));
    assert.deepEqual(
      [state.status, state.url, state.outputs, state.created_at, state.completed_at, state.expires_at],
      [
        'succeeded',
        IMAGE_URLS[0],
        IMAGE_URLS.map((url) => ({ type: 'image', url })),
        '2026-05-01T12:11:02Z',
        '2026-05-01T12:11:19Z',
        '2026-05-02T12:11:19Z',
      ],
    );
  });

  it('an image task with a failed image: the files there are, the failed entry skipped', async () => {
    const { state } = await runLookup(dashscope, IMAGE_TASK_ID, upstream('succeeded-image-partial'));
    assert.deepEqual([state.status, state.outputs, state.error], ['succeeded', [{ type: 'image', url: IMAGE_URLS[1] }], null]);
  });

  it('a link without Expires leaves expires_at null; a relative link resolves against the base URL', async () => {
    const body = JSON.stringify({ output: { task_id: TASK_ID, task_status: 'SUCCEEDED', video_url: '/files/out.mp4' } });
    const { state } = await runLookup(dashscope, TASK_ID, upstream(answer(200, body)), { baseUrl: 'https://relay.example/dashscope' });
    assert.deepEqual([state.url, state.expires_at], ['https://relay.example/files/out.mp4', null]);
  });

  it('no files on a task that is not SUCCEEDED, even if the answer names one', async () => {
    const body = JSON.stringify({ output: { task_id: TASK_ID, task_status: 'RUNNING', video_url: VIDEO_URL } });
    const { state } = await runLookup(dashscope, TASK_ID, upstream(answer(200, body)));
    assert.deepEqual([state.outputs, state.url, state.expires_at], [[], null, null]);
  });

  it('a SUCCEEDED without a usable file is upstream_invalid_response', async () => {
    for (const output of [
      { task_id: TASK_ID, task_status: 'SUCCEEDED' },
      { task_id: TASK_ID, task_status: 'SUCCEEDED', video_url: '' },
      { task_id: TASK_ID, task_status: 'SUCCEEDED', results: [{ code: 'DataInspectionFailed', message: 'x' }] },
    ]) {
      const error = await lookupError(dashscope, TASK_ID, upstream(answer(200, JSON.stringify({ output }))));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(output));
    }
  });
});

describe('dashscope failures', () => {
  it('FAILED carries output.code and output.message (not the top-level ones new-api reads)', async () => {
    const { state } = await runLookup(dashscope, TASK_ID, upstream('failed'));
    assert.deepEqual(
      [state.status, state.provider_status, state.error, state.url, state.outputs, state.completed_at],
      ['failed', 'FAILED', CONTENT_REVIEW, null, [], '2026-05-01T10:06:40Z'],
    );
  });

  it("an image task's reason may sit in a failed entry of results", async () => {
    const { state } = await runLookup(dashscope, IMAGE_TASK_ID, upstream('failed-image-results'));
    assert.deepEqual([state.status, state.error], ['failed', CONTENT_REVIEW]);
  });

  it('a reason sent only at the top level is still the reason', async () => {
    const { state } = await runLookup(dashscope, TASK_ID, upstream('failed-top-level'));
    assert.deepEqual(state.error, { code: 'InternalError', message: 'An internal error has occured, please try again later or contact service support.' });
  });

  it('a FAILED without any reason gets the sentence saying so; a code alone or a message alone is kept', async () => {
    const failed = (fields: object) => JSON.stringify({ output: { task_id: TASK_ID, task_status: 'FAILED', ...fields } });
    assert.deepEqual((await runLookup(dashscope, TASK_ID, upstream(answer(200, failed({}))))).state.error, {
      code: 'task_failed',
      message: 'The provider reported a failure without details',
    });
    assert.deepEqual((await runLookup(dashscope, TASK_ID, upstream(answer(200, failed({ code: 'InternalError' }))))).state.error, {
      code: 'InternalError',
      message: 'The provider reported a failure without details',
    });
    assert.deepEqual((await runLookup(dashscope, TASK_ID, upstream(answer(200, failed({ message: 'timed out' }))))).state.error, {
      code: 'task_failed',
      message: 'timed out',
    });
  });
});

describe('dashscope unknown tasks', () => {
  it('UNKNOWN in an HTTP 200 is task_not_found, never a status', async () => {
    const error = await lookupError(dashscope, '00000000-0000-4000-8000-000000000000', upstream('unknown'));
    assert.deepEqual([error.code, error.status, error.detail], ['task_not_found', 404, 'dashscope has no task with this id (or it is older than 24 hours)']);
    const lower = JSON.stringify({ output: { task_status: 'unknown' } });
    assert.equal((await lookupError(dashscope, TASK_ID, upstream(answer(200, lower)))).code, 'task_not_found');
  });

  it('an HTTP 404 is task_not_found too', async () => {
    const error = await lookupError(dashscope, TASK_ID, upstream(answer(404, fixture('error-404'))));
    assert.deepEqual([error.code, error.provider], ['task_not_found', 'dashscope']);
  });
});

describe('dashscope API errors', () => {
  it('HTTP 401 (InvalidApiKey) and 403 (AccessDenied) are upstream_auth_failed; the detail is ours', async () => {
    for (const [status, name] of [
      [401, 'error-401-invalid-api-key'],
      [403, 'error-403-access-denied'],
    ] as const) {
      const error = await lookupError(dashscope, TASK_ID, upstream(answer(status, fixture(name))));
      assert.deepEqual([error.code, error.status], ['upstream_auth_failed', 502], name);
      assert.ok(!error.detail.includes('API-key') && !error.detail.includes('Access denied'), error.detail);
    }
  });

  it('HTTP 429 (Throttling) is upstream_rate_limited, with its Retry-After or 5 s', async () => {
    const limited = await lookupError(dashscope, TASK_ID, upstream(answer(429, fixture('error-429-throttling'))));
    assert.deepEqual([limited.code, limited.status, limited.retryAfter], ['upstream_rate_limited', 503, 5]);
    const hinted = await lookupError(dashscope, TASK_ID, upstream(answer(429, fixture('error-429-throttling'), { 'retry-after': '9' })));
    assert.equal(hinted.retryAfter, 9);
  });

  it('HTTP 5xx and other 4xx (Arrearage) are upstream_error', async () => {
    for (const [status, name] of [
      [500, 'error-500-internal'],
      [503, 'error-500-internal'],
      [400, 'error-400-arrearage'],
    ] as const) {
      assert.equal((await lookupError(dashscope, TASK_ID, upstream(answer(status, fixture(name))))).code, 'upstream_error', `${status}`);
    }
  });

  it('an error code in an HTTP 200 without a task is never a failed task: by its code word', async () => {
    const limited = await lookupError(dashscope, TASK_ID, upstream('error-429-throttling'));
    assert.deepEqual([limited.code, limited.retryAfter, limited.detail], ['upstream_rate_limited', 5, 'dashscope is rate limiting the gateway']);
    assert.equal((await lookupError(dashscope, TASK_ID, upstream(answer(200, fixture('error-429-throttling'), { 'retry-after': '3' })))).retryAfter, 3);
    for (const name of ['error-401-invalid-api-key', 'error-403-access-denied']) {
      const refused = await lookupError(dashscope, TASK_ID, upstream(name));
      assert.deepEqual([refused.code, refused.detail], ['upstream_auth_failed', "dashscope rejected the gateway's credentials"], name);
    }
    const other = await lookupError(dashscope, TASK_ID, upstream('error-400-arrearage'));
    assert.deepEqual([other.code, other.detail], ['upstream_error', 'dashscope answered with an API error']);
    assert.deepEqual((other.cause as { code: string }).code, 'Arrearage', 'the code is kept for the logs');
    const emptyOutput = JSON.stringify({ output: {}, code: 'Throttling', message: 'Requests throttled.' });
    assert.equal((await lookupError(dashscope, TASK_ID, upstream(answer(200, emptyOutput)))).code, 'upstream_rate_limited');
  });

  it('an HTTP 200 with neither a task nor a code, or that is not JSON, is upstream_invalid_response', async () => {
    for (const body of ['{}', '{"request_id": "x"}', '{"output": {"task_id": "x"}}', '{"output": "RUNNING"}', '<html>busy</html>', '']) {
      assert.equal((await lookupError(dashscope, TASK_ID, upstream(answer(200, body)))).code, 'upstream_invalid_response', body);
    }
  });
});

describe('dashscope times and links', () => {
  it('reads a zone-less time (with or without fraction, T or space) as UTC+8; a zoned or numeric one as it says', () => {
    assert.equal(toInstant('2026-05-01 18:05:15.212'), '2026-05-01T10:05:15Z');
    assert.equal(toInstant('2026-05-01T18:05:15'), '2026-05-01T10:05:15Z');
    assert.equal(toInstant('2026-05-01 02:00'), '2026-04-30T18:00:00Z');
    assert.equal(toInstant('2026-05-01'), '2026-04-30T16:00:00Z');
    assert.equal(toInstant('2026-05-01T18:05:15Z'), '2026-05-01T18:05:15Z');
    assert.equal(toInstant('2026-05-01T18:05:15+02:00'), '2026-05-01T16:05:15Z');
    assert.equal(toInstant(1777716478), '2026-05-02T10:07:58Z');
    for (const value of ['2026-02-31 00:00:00', 'yesterday', '', null, undefined, 0]) assert.equal(toInstant(value), null, String(value));
  });

  it("reads a link's Expires in any case, as Unix seconds; anything else is no expiry", () => {
    assert.equal(linkExpiry(VIDEO_URL), 1777716478);
    assert.equal(linkExpiry('http://127.0.0.1:9/sample.webm?expires=1777716478&sig=ab'), 1777716478);
    for (const url of ['https://x.example/a.mp4', 'https://x.example/a.mp4?Expires=soon', 'https://x.example/a.mp4?Expires=', 'not a url', 'https://x.example/a.mp4?X-Expires=1']) {
      assert.equal(linkExpiry(url), undefined, url);
    }
  });
});
