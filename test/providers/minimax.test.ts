import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { minimax } from '../../src/providers/minimax/index.js';
import type { UpstreamCall } from '../../src/providers/types.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup, type MadeRequest } from '../helpers/adapter.js';

const TASK_ID = '361720188367060';
const FILE_ID = '361721749176519';
const FAILED_ID = '176843862716480';
const BASE_URL = 'https://api.minimax.io';
const QUERY_URL = `${BASE_URL}/v1/query/video_generation?task_id=${TASK_ID}`;
const FILE_URL = `${BASE_URL}/v1/files/retrieve?file_id=${FILE_ID}`;
const DOWNLOAD_URL = `https://video-product.cdn.minimax.io/inference_output/video/2026-01-31/${TASK_ID}/output.mp4`;

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/minimax/${name}.json`, import.meta.url), 'utf8');
}

type Reply = UpstreamResponse | string;

/** Answers the task query with `query` and the file retrieval with `file`; any other path fails the test. */
function upstream(query: Reply, file?: Reply) {
  const asResponse = (reply: Reply) => (typeof reply === 'string' ? answer(200, reply) : reply);
  return (request: MadeRequest): UpstreamResponse => {
    const path = new URL(request.url).pathname;
    if (path.endsWith('/v1/query/video_generation')) return asResponse(query);
    if (path.endsWith('/v1/files/retrieve') && file !== undefined) return asResponse(file);
    assert.fail(`unexpected request ${request.url}`);
  };
}

describe('minimax definition', () => {
  it('has its name, MINIMAX_API_KEY, the global base URL and the 10 s cadence of its samples', () => {
    assert.equal(minimax.name, 'minimax');
    assert.deepEqual(minimax.credentials, [{ setting: 'apiKey', env: 'MINIMAX_API_KEY', secret: true }]);
    assert.equal(minimax.defaultBaseUrl, 'https://api.minimax.io');
    assert.equal(minimax.cadenceMs, 10_000);
  });

  it('claims 10-19 digit ids second among the numeric-id providers (order 41)', () => {
    assert.deepEqual(minimax.idRules, [{ pattern: '^\\d{10,19}$', order: 41 }]);
  });

  it('accepts numeric task ids of 10 to 19 digits only', () => {
    const { pattern, example } = minimax.nativeIds;
    for (const id of [example, '1234567890', '401047179385389059', '1'.repeat(19)]) assert.ok(pattern.test(id), id);
    for (const id of ['123456789', '1'.repeat(20), '36172018836706a', 'video_1', '361720188367060/x', '']) assert.ok(!pattern.test(id), id);
  });

  it('maps its five task states, case-insensitively', () => {
    assert.deepEqual(minimax.statuses, { queued: ['Preparing', 'Queueing'], in_progress: ['Processing'], succeeded: ['Success'], failed: ['Fail'] });
  });
});

describe('minimax succeeded lookup: the query, then the file', () => {
  it('makes exactly two GETs, query then retrieval, each with the Bearer key and the id in the query string', async () => {
    const { requests } = await runLookup(minimax, TASK_ID, upstream(fixture('query-success'), fixture('file-retrieve')), { credentials: { apiKey: 'mm-key-1' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.template, request.headers['authorization']]),
      [
        ['GET', QUERY_URL, '/v1/query/video_generation', 'Bearer mm-key-1'],
        ['GET', FILE_URL, '/v1/files/retrieve', 'Bearer mm-key-1'],
      ],
    );
    assert.ok(requests.every((request) => !request.template.includes(TASK_ID) && !request.template.includes(FILE_ID)), 'ids stay out of span templates');
  });

  it('gives the retrieved download_url as the video, and the file creation time as completed_at', async () => {
    const { state } = await runLookup(minimax, TASK_ID, upstream(fixture('query-success'), fixture('file-retrieve')));
    assert.deepEqual(state, {
      provider_task_id: TASK_ID,
      status: 'succeeded',
      provider_status: 'Success',
      progress: 100,
      url: DOWNLOAD_URL,
      outputs: [{ type: 'video', url: DOWNLOAD_URL }],
      error: null,
      model: null,
      created_at: null,
      completed_at: '2026-01-31T12:51:37Z',
      expires_at: null,
    });
  });

  it('takes file_id as a number in the query and as a string in the retrieval too (the other reading of its drift)', async () => {
    const documented = await runLookup(minimax, TASK_ID, upstream(fixture('query-success'), fixture('file-retrieve')));
    const drifted = await runLookup(minimax, TASK_ID, upstream(fixture('query-success-numeric-file-id'), fixture('file-retrieve-string-file-id')));
    assert.equal(drifted.requests[1]?.url, FILE_URL);
    assert.deepEqual(drifted.state, documented.state);
  });

  it('reads a numeric file_id past 2^53 from the raw body, not as JSON.parse rounded it', async () => {
    const longFileId = '3617217491765190123';
    const query = `{"task_id": "${TASK_ID}", "status": "Success", "file_id": ${longFileId}, "base_resp": {"status_code": 0, "status_msg": "success"}}`;
    const { requests } = await runLookup(minimax, TASK_ID, upstream(query, fixture('file-retrieve')));
    assert.equal(requests[1]?.url, `${BASE_URL}/v1/files/retrieve?file_id=${longFileId}`);
  });

  it('resolves a relative download_url against the base URL', async () => {
    const file = JSON.stringify({ file: { file_id: 1, download_url: '/files/output.mp4' }, base_resp: { status_code: 0 } });
    const { state } = await runLookup(minimax, TASK_ID, upstream(fixture('query-success'), file), { baseUrl: 'https://relay.example/minimax' });
    assert.equal(state.url, 'https://relay.example/files/output.mp4');
    assert.equal(state.completed_at, null);
  });

  it('makes both requests through the one call it is given (one deadline), never a call of its own', async () => {
    let spentMs = 0;
    const seenRemaining: number[] = [];
    const respond = upstream(fixture('query-success'), fixture('file-retrieve'));
    const call: UpstreamCall = {
      async request(request) {
        seenRemaining.push(call.remainingMs);
        spentMs += 300;
        const url = new URL(request.path, BASE_URL);
        for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
        return respond({ ...request, url: url.href, headers: {} });
      },
      get remainingMs() {
        return 1000 - spentMs;
      },
    };
    const connection = minimax.connect({
      settings: { name: 'minimax', credentials: { apiKey: 'k' }, baseUrl: BASE_URL, urls: {}, pollIntervalMs: 10_000, connections: 1 },
      addSecret: () => assert.fail('minimax learns no secret'),
      newCall: () => assert.fail('a lookup makes its calls through the call it was given'),
    });
    const draft = await connection.lookup(TASK_ID, call);
    assert.equal(draft.outputs[0]?.url, DOWNLOAD_URL);
    assert.deepEqual(seenRemaining, [1000, 700], 'the retrieval ran on what the query left of the budget');
  });
});

describe('minimax running and failed tasks: the query alone', () => {
  for (const [name, status, word] of [
    ['query-preparing', 'queued', 'Preparing'],
    ['query-queueing', 'queued', 'Queueing'],
    ['query-processing', 'in_progress', 'Processing'],
  ] as const) {
    it(`maps ${word} to ${status}, with no progress and no retrieval`, async () => {
      const { state, requests } = await runLookup(minimax, TASK_ID, upstream(fixture(name)));
      assert.equal(requests.length, 1);
      assert.deepEqual(
        [state.provider_task_id, state.status, state.provider_status, state.progress, state.url, state.outputs, state.error, state.completed_at],
        [TASK_ID, status, word, null, null, [], null, null],
      );
    });
  }

  it('maps Fail with base_resp 0 to failed with a sentence, not "success"', async () => {
    const { state, requests } = await runLookup(minimax, FAILED_ID, upstream(fixture('query-fail')));
    assert.equal(requests.length, 1);
    assert.deepEqual([state.status, state.provider_status, state.url], ['failed', 'Fail', null]);
    assert.deepEqual(state.error, { code: 'task_failed', message: 'The provider reported a failure without details' });
  });

  it("maps Fail with a non-zero base_resp to failed with its status_msg as the message", async () => {
    const { state } = await runLookup(minimax, FAILED_ID, upstream(fixture('query-fail-with-reason')));
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.error, { code: 'task_failed', message: 'video generation failed: the output did not pass the content review' });
  });

  it('keeps an unknown word as in_progress', async () => {
    const { state } = await runLookup(minimax, TASK_ID, upstream(JSON.stringify({ task_id: TASK_ID, status: 'Rendering', base_resp: { status_code: 0 } })));
    assert.deepEqual([state.status, state.provider_status], ['in_progress', 'Rendering']);
  });

  it('uses the asked id when the answer names none', async () => {
    const { state } = await runLookup(minimax, TASK_ID, upstream(JSON.stringify({ status: 'Processing' })));
    assert.equal(state.provider_task_id, TASK_ID);
  });
});

describe('minimax errors inside an HTTP 200 are never a task failure', () => {
  it('1002 during polling is upstream_rate_limited (Retry-After 5 s by default, the header when sent)', async () => {
    const limited = await lookupError(minimax, TASK_ID, upstream(fixture('error-rate-limited')));
    assert.deepEqual([limited.code, limited.status, limited.retryAfter, limited.detail], ['upstream_rate_limited', 503, 5, 'minimax is rate limiting the gateway (base_resp 1002)']);
    const hinted = await lookupError(minimax, TASK_ID, upstream(answer(200, fixture('error-rate-limited'), { 'retry-after': '12' })));
    assert.equal(hinted.retryAfter, 12);
  });

  it('a rate limit wins over a Fail in the same answer, and a code sent as text counts', async () => {
    const body = JSON.stringify({ task_id: TASK_ID, status: 'Fail', base_resp: { status_code: '1002', status_msg: 'rate limit exceeded' } });
    assert.equal((await lookupError(minimax, TASK_ID, upstream(body))).code, 'upstream_rate_limited');
  });

  it('1004 and 2049 are upstream_auth_failed', async () => {
    for (const name of ['error-login-fail', 'error-invalid-api-key']) {
      const error = await lookupError(minimax, TASK_ID, upstream(fixture(name)));
      assert.deepEqual([error.code, error.status], ['upstream_auth_failed', 502], name);
      assert.ok(!error.detail.includes('login fail'), 'the detail is our sentence, not the upstream text');
    }
  });

  it('1008 (insufficient balance) is upstream_error naming the balance', async () => {
    const error = await lookupError(minimax, TASK_ID, upstream(fixture('error-insufficient-balance')));
    assert.deepEqual([error.code, error.detail], ['upstream_error', "minimax says the account's balance is insufficient (base_resp 1008)"]);
  });

  it('a status_msg saying the task does not exist is task_not_found; another invalid-params answer is upstream_error', async () => {
    const missing = await lookupError(minimax, TASK_ID, upstream(fixture('error-task-not-exist')));
    assert.deepEqual([missing.code, missing.status, missing.detail], ['task_not_found', 404, 'minimax has no task with this id']);
    const invalid = await lookupError(minimax, TASK_ID, upstream(fixture('error-invalid-params')));
    assert.deepEqual([invalid.code, invalid.detail], ['upstream_error', 'minimax answered with an API error (base_resp 2013)']);
    assert.deepEqual(invalid.cause, { call: 'query', base_resp: { status_code: 2013, status_msg: 'invalid params, task_id' } });
  });

  it('an answer without a status (and no error) is upstream_invalid_response', async () => {
    const error = await lookupError(minimax, TASK_ID, upstream(JSON.stringify({ task_id: '', status: '', base_resp: { status_code: 0, status_msg: 'success' } })));
    assert.equal(error.code, 'upstream_invalid_response');
  });
});

describe('minimax HTTP errors', () => {
  it('404 is task_not_found, and so is a non-2xx answer whose status_msg says the task does not exist', async () => {
    assert.equal((await lookupError(minimax, TASK_ID, upstream(answer(404, '404 page not found')))).code, 'task_not_found');
    assert.equal((await lookupError(minimax, TASK_ID, upstream(answer(400, fixture('error-task-not-exist'))))).code, 'task_not_found');
  });

  it('401 and 403 are upstream_auth_failed, 429 upstream_rate_limited, 5xx and other 4xx upstream_error', async () => {
    for (const [status, code] of [
      [401, 'upstream_auth_failed'],
      [403, 'upstream_auth_failed'],
      [429, 'upstream_rate_limited'],
      [400, 'upstream_error'],
      [500, 'upstream_error'],
      [503, 'upstream_error'],
    ] as const) {
      assert.equal((await lookupError(minimax, TASK_ID, upstream(answer(status, '{"base_resp":{"status_code":1000,"status_msg":"unknown error"}}')))).code, code, String(status));
    }
  });

  it('a body that is not JSON is upstream_invalid_response', async () => {
    assert.equal((await lookupError(minimax, TASK_ID, upstream('<html>busy</html>'))).code, 'upstream_invalid_response');
  });
});

describe('minimax retrieval errors', () => {
  it('an API error in the retrieval is upstream_error (rate limit: upstream_rate_limited), never a failed task', async () => {
    const failed = await lookupError(minimax, TASK_ID, upstream(fixture('query-success'), fixture('error-file-retrieve-failed')));
    assert.deepEqual([failed.code, failed.detail], ['upstream_error', 'minimax could not retrieve the result file of a succeeded task (base_resp 1000)']);
    const limited = await lookupError(minimax, TASK_ID, upstream(fixture('query-success'), fixture('error-rate-limited')));
    assert.equal(limited.code, 'upstream_rate_limited');
  });

  it('a file the retrieval does not know is upstream_error: the task itself exists', async () => {
    const notExist = JSON.stringify({ file: null, base_resp: { status_code: 2013, status_msg: 'invalid params, file not exist' } });
    assert.equal((await lookupError(minimax, TASK_ID, upstream(fixture('query-success'), notExist))).code, 'upstream_error');
    assert.equal((await lookupError(minimax, TASK_ID, upstream(fixture('query-success'), answer(404, '{}')))).code, 'upstream_error');
  });

  it('a Success without a file_id, or a retrieval without a download_url, is upstream_invalid_response', async () => {
    const noFileId = JSON.stringify({ task_id: TASK_ID, status: 'Success', base_resp: { status_code: 0 } });
    const withoutId = await lookupError(minimax, TASK_ID, upstream(noFileId));
    assert.deepEqual([withoutId.code, withoutId.detail], ['upstream_invalid_response', 'minimax reported a succeeded task without a file_id']);
    const noUrl = JSON.stringify({ file: { file_id: 1, download_url: '' }, base_resp: { status_code: 0 } });
    assert.equal((await lookupError(minimax, TASK_ID, upstream(fixture('query-success'), noUrl))).code, 'upstream_invalid_response');
  });
});
