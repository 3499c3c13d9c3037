import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ProblemCode } from '../../src/errors.js';
import { defineKling, kling } from '../../src/providers/kling/index.js';
import type { UpstreamCall } from '../../src/providers/types.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup, type MadeRequest } from '../helpers/adapter.js';

const ACCESS_KEY = 'ak-test-8d0f2c';
const SECRET_KEY = 'sk-test-5be19a7c44';
const credentials = { accessKey: ACCESS_KEY, secretKey: SECRET_KEY };
const BASE = 'https://api-singapore.klingai.com';
const TASK = '867283741759111202';
const NATIVE_ID = `image2video/${TASK}`;
/** 2026-03-29T17:24:36Z, in ms: the clock the tokens of these tests are minted by. */
const NOW_MS = 1_774_805_076_000;
const NOW_SECONDS = NOW_MS / 1000;
const RESULT = `https://cdn.klingai.com/bs2/upload-kling-api/${TASK}/output.mp4`;

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/kling/${name}.json`, import.meta.url), 'utf8');
}

/** One lookup of `nativeId` on a clock stopped at NOW_MS, every call answered by `respond`. */
function lookup(respond: (request: MadeRequest, index: number) => UpstreamResponse, nativeId = NATIVE_ID) {
  return runLookup(defineKling({ now: () => NOW_MS }), nativeId, respond, { credentials });
}

function errorOf(response: UpstreamResponse, nativeId = NATIVE_ID) {
  return lookupError(defineKling({ now: () => NOW_MS }), nativeId, () => response, { credentials });
}

async function assertErrorCode(response: UpstreamResponse, code: ProblemCode) {
  const error = await errorOf(response);
  assert.equal(error.code, code, `${response.statusCode} ${response.body}`);
  return error;
}

interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signedWithSecretKey: boolean;
}

/** A JWT taken apart, its signature checked here with the secret key. */
function decodeJwt(authorization: string | undefined): DecodedJwt {
  assert.match(authorization ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  const [header, claims, signature] = authorization!.slice('Bearer '.length).split('.') as [string, string, string];
  const part = (text: string) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
  const expected = createHmac('sha256', SECRET_KEY).update(`${header}.${claims}`).digest('base64url');
  return { header: part(header), claims: part(claims), signedWithSecretKey: signature === expected };
}

/** A connection on a clock the test moves: several lookups share its token cache. */
function connected(clock: { now: number }) {
  const learned: string[] = [];
  const unused: UpstreamCall = {
    request: () => Promise.reject(new Error('authorize makes no call')),
    remainingMs: 10_000,
  };
  const connection = defineKling({ now: () => clock.now }).connect({
    settings: { name: 'kling', credentials, baseUrl: BASE, urls: {}, pollIntervalMs: 5000, connections: 1 },
    addSecret: (secret) => learned.push(secret),
    newCall: () => unused,
  });
  const tokenNow = async () => (await connection.authorize(new URL(`${BASE}/v1/videos/text2video/1`), unused))['authorization'];
  return { tokenNow, learned };
}

describe('kling definition', () => {
  it('declares both keys as secrets, the Singapore host, 5 s and the digits rule at order 40', () => {
    assert.equal(kling.name, 'kling');
    assert.deepEqual(kling.credentials, [
      { setting: 'accessKey', env: 'KLING_ACCESS_KEY', secret: true },
      { setting: 'secretKey', env: 'KLING_SECRET_KEY', secret: true },
    ]);
    assert.equal(kling.defaultBaseUrl, 'https://api-singapore.klingai.com');
    assert.equal(kling.cadenceMs, 5000);
    assert.deepEqual(kling.idRules, [{ pattern: '^\\d{10,19}$', order: 40 }]);
    assert.deepEqual(kling.statuses, { queued: ['submitted'], in_progress: ['processing'], succeeded: ['succeed'], failed: ['failed'] });
  });

  it('accepts task ids of 10-19 digits or 22 base64url characters, bare or after an action', () => {
    for (const id of [TASK, NATIVE_ID, 'text2video/743211632612511839', 'CjNQtmctxFMAAAAAAGZ1Vw', 'text2video/CjNQtmctxFMAAAAAAGZ1Vw', 'video-extend/1234567890', kling.nativeIds.example]) {
      assert.ok(kling.nativeIds.pattern.test(id), id);
    }
    for (const id of ['123456789', '12345678901234567890', 'CjNQtmctxFMAAAAAAGZ1V', 'Text2video/867283741759111202', '../867283741759111202', '-x/867283741759111202', 'a/b/867283741759111202', `${'a'.repeat(41)}/${TASK}`, 'text2video/']) {
      assert.ok(!kling.nativeIds.pattern.test(id), id);
    }
  });

  it('expands a bare id to text2video then image2video, and keeps an id that names its action', () => {
    assert.deepEqual(kling.expand?.(TASK), [`text2video/${TASK}`, `image2video/${TASK}`]);
    assert.deepEqual(kling.expand?.('CjNQtmctxFMAAAAAAGZ1Vw'), ['text2video/CjNQtmctxFMAAAAAAGZ1Vw', 'image2video/CjNQtmctxFMAAAAAAGZ1Vw']);
    assert.deepEqual(kling.expand?.(NATIVE_ID), [NATIVE_ID]);
  });
});

describe('kling token', () => {
  it('is an HS256 JWT {iss, exp: now + 1800, nbf: now - 5} signed with the secret key, and learned as a secret', async () => {
    const { requests, learned } = await lookup(() => answer(200, fixture('processing')));
    const authorization = requests[0]?.headers['authorization'];
    const jwt = decodeJwt(authorization);
    assert.deepEqual(jwt.header, { alg: 'HS256', typ: 'JWT' });
    assert.deepEqual(jwt.claims, { iss: ACCESS_KEY, exp: NOW_SECONDS + 1800, nbf: NOW_SECONDS - 5 });
    assert.equal(jwt.signedWithSecretKey, true);
    assert.deepEqual(learned, [authorization!.slice('Bearer '.length)]);
  });

  it('is reused while it has more than 5 minutes left, and minted anew after that', async () => {
    const clock = { now: NOW_MS };
    const { tokenNow, learned } = connected(clock);
    const first = await tokenNow();
    clock.now = NOW_MS + 1_499_999; // 1500 s of 1800 not quite over: 300 s and a bit left
    assert.equal(await tokenNow(), first);
    assert.equal(learned.length, 1, 'one token minted');
    clock.now = NOW_MS + 1_500_000; // exactly 300 s left: no longer reused
    const second = await tokenNow();
    assert.notEqual(second, first);
    assert.deepEqual(decodeJwt(second).claims, { iss: ACCESS_KEY, exp: NOW_SECONDS + 1500 + 1800, nbf: NOW_SECONDS + 1500 - 5 });
    assert.equal(decodeJwt(second).signedWithSecretKey, true);
    assert.deepEqual(learned, [first, second].map((header) => header!.slice('Bearer '.length)));
  });

  it('code 1004 (token expired): a new token is minted and the call made exactly once more', async () => {
    const responses = [answer(401, fixture('error-1004')), answer(200, fixture('processing'))];
    const { state, requests, learned } = await lookup((_request, index) => responses[index]!);
    assert.equal(state.status, 'in_progress');
    assert.equal(requests.length, 2);
    assert.deepEqual(requests.map((request) => request.url), [`${BASE}/v1/videos/${NATIVE_ID}`, `${BASE}/v1/videos/${NATIVE_ID}`]);
    const [stale, fresh] = requests.map((request) => request.headers['authorization']);
    assert.notEqual(fresh, stale, 'the retry carries a new token');
    // Refused within its own second, the replacement is stamped a second later to differ.
    assert.deepEqual(decodeJwt(fresh).claims, { iss: ACCESS_KEY, exp: NOW_SECONDS + 1 + 1800, nbf: NOW_SECONDS + 1 - 5 });
    assert.equal(decodeJwt(fresh).signedWithSecretKey, true);
    assert.equal(learned.length, 2, 'both tokens are redacted');
  });

  it('code 1004 inside an HTTP 200 is the same: one more call with a new token', async () => {
    const responses = [answer(200, fixture('error-1004')), answer(200, fixture('succeed'))];
    const { state, requests } = await lookup((_request, index) => responses[index]!);
    assert.deepEqual([state.status, requests.length], ['succeeded', 2]);
  });

  it('code 1004 again with the new token is upstream_auth_failed after exactly two calls', async () => {
    const requests: MadeRequest[] = [];
    const error = await lookupError(defineKling({ now: () => NOW_MS }), NATIVE_ID, (request) => {
      requests.push(request);
      return answer(401, fixture('error-1004'));
    }, { credentials });
    assert.equal(error.code, 'upstream_auth_failed');
    assert.equal(requests.length, 2);
    assert.match(error.detail, /expired, again with a new one/);
  });

  it('leaves no key and no token in error details', async () => {
    const requests: MadeRequest[] = [];
    const error = await lookupError(defineKling({ now: () => NOW_MS }), NATIVE_ID, (request) => {
      requests.push(request);
      return answer(401, { code: 1000, message: `bad token ${request.headers['authorization']}` });
    }, { credentials });
    const token = requests[0]!.headers['authorization']!.slice('Bearer '.length);
    for (const secret of [token, ACCESS_KEY, SECRET_KEY]) assert.ok(!error.detail.includes(secret), secret);
  });
});

describe('kling status call', () => {
  it('is one GET of /v1/videos/{action}/{task_id} with the token, templated without ids', async () => {
    const { requests } = await lookup(() => answer(200, fixture('processing')), 'text2video/CjNQtmctxFMAAAAAAGZ1Vw');
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.method ?? 'GET', 'GET');
    assert.equal(requests[0]!.url, `${BASE}/v1/videos/text2video/CjNQtmctxFMAAAAAAGZ1Vw`);
    assert.equal(requests[0]!.template, '/v1/videos/{action}/{task_id}');
    assert.deepEqual(Object.keys(requests[0]!.headers), ['authorization']);
  });

  it('asked directly with a bare id, tries text2video, then image2video when text2video has none', async () => {
    const { state, requests } = await lookup(
      (request) => (request.url.includes('/image2video/') ? answer(200, fixture('processing')) : answer(404, fixture('error-1203'))),
      TASK,
    );
    assert.deepEqual(requests.map((request) => request.url), [`${BASE}/v1/videos/text2video/${TASK}`, `${BASE}/v1/videos/image2video/${TASK}`]);
    assert.equal(state.provider_task_id, NATIVE_ID);
  });
});

describe('kling answers', () => {
  it('maps the docs\' processing example: no progress, created_at from milliseconds, no completion yet', async () => {
    const { state } = await lookup(() => answer(200, fixture('processing')));
    assert.deepEqual(state, {
      provider_task_id: NATIVE_ID,
      status: 'in_progress',
      provider_status: 'processing',
      progress: null,
      url: null,
      outputs: [],
      error: null,
      model: null,
      created_at: '2026-03-29T17:24:36Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('maps submitted to queued', async () => {
    const { state } = await lookup(() => answer(200, fixture('submitted')));
    assert.deepEqual([state.status, state.provider_status, state.completed_at], ['queued', 'submitted', null]);
  });

  it('maps succeed: its video, completed_at from updated_at', async () => {
    const { state } = await lookup(() => answer(200, fixture('succeed')));
    assert.deepEqual(state, {
      provider_task_id: NATIVE_ID,
      status: 'succeeded',
      provider_status: 'succeed',
      progress: 100,
      url: RESULT,
      outputs: [{ type: 'video', url: RESULT }],
      error: null,
      model: null,
      created_at: '2026-03-29T17:24:36Z',
      completed_at: '2026-03-29T17:26:30Z',
      expires_at: null,
    });
  });

  it('serves the clean file of a watermarked answer, not its watermark_url', async () => {
    const { state } = await lookup(() => answer(200, fixture('succeed-watermarked')));
    assert.deepEqual(state.outputs, [{ type: 'video', url: RESULT }]);
  });

  it('maps task_result.images to image outputs', async () => {
    const { state } = await lookup(() => answer(200, fixture('succeed-images')));
    assert.deepEqual(state.outputs, [
      { type: 'image', url: 'https://h1.inkwai.com/bs2/upload-ylab-stunt/frame-0.png' },
      { type: 'image', url: 'https://h1.inkwai.com/bs2/upload-ylab-stunt/frame-1.png' },
    ]);
    assert.equal(state.url, 'https://h1.inkwai.com/bs2/upload-ylab-stunt/frame-0.png');
  });

  it('maps an older 22-character task', async () => {
    const { state } = await lookup(() => answer(200, fixture('succeed-older-id')), 'text2video/CjNQtmctxFMAAAAAAGZ1Vw');
    assert.deepEqual([state.provider_task_id, state.status, state.created_at], ['text2video/CjNQtmctxFMAAAAAAGZ1Vw', 'succeeded', '2024-11-15T08:00:00Z']);
  });

  it('maps failed to {code: task_failed, message: task_status_msg}', async () => {
    const { state } = await lookup(() => answer(200, fixture('failed')), 'text2video/743211632612511839');
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.error, { code: 'task_failed', message: 'Failure to pass the risk control system' });
    assert.deepEqual([state.url, state.outputs, state.completed_at], [null, [], '2026-03-29T17:25:00Z']);
  });

  it('a failure without a message gets the generic one', async () => {
    const body = JSON.parse(fixture('failed')) as { data: Record<string, unknown> };
    body.data['task_status_msg'] = '';
    const { state } = await lookup(() => answer(200, body));
    assert.deepEqual(state.error, { code: 'task_failed', message: 'The provider reported a failure without details' });
  });

  it('a word outside its table is in_progress, the word kept', async () => {
    const body = JSON.parse(fixture('processing')) as { data: Record<string, unknown> };
    body.data['task_status'] = 'succeeded';
    const { state } = await lookup(() => answer(200, body));
    assert.deepEqual([state.status, state.provider_status], ['in_progress', 'succeeded']);
  });

  it('a succeed without a usable file is upstream_invalid_response', async () => {
    const body = JSON.parse(fixture('succeed')) as { data: Record<string, unknown> };
    for (const result of [undefined, { videos: [] }, { videos: [{ url: 'not a url' }] }, { videos: 'x' }]) {
      body.data['task_result'] = result;
      await assertErrorCode(answer(200, body), 'upstream_invalid_response');
    }
  });

  it('a body that is not JSON, or an envelope without a task, is upstream_invalid_response', async () => {
    await assertErrorCode(answer(200, '<html>Just a moment...</html>'), 'upstream_invalid_response');
    await assertErrorCode(answer(200, { code: 0, message: 'SUCCEED', request_id: 'r' }), 'upstream_invalid_response');
    await assertErrorCode(answer(200, { code: 0, data: { task_id: TASK } }), 'upstream_invalid_response');
  });
});

describe('kling errors (never a task failure)', () => {
  it('not found: HTTP 404 with code 1203, code 1203 inside an HTTP 200, or a bare 404', async () => {
    await assertErrorCode(answer(404, fixture('error-1203')), 'task_not_found');
    await assertErrorCode(answer(200, fixture('error-1203')), 'task_not_found');
    await assertErrorCode(answer(404, 'Not Found'), 'task_not_found');
  });

  it('codes 1000-1003 are upstream_auth_failed, in a 401 or in a 200, with one call only', async () => {
    for (const code of [1000, 1001, 1002, 1003]) {
      for (const status of [401, 200]) {
        const requests: MadeRequest[] = [];
        const error = await lookupError(defineKling({ now: () => NOW_MS }), NATIVE_ID, (request) => {
          requests.push(request);
          return answer(status, { code, message: 'Authentication failed', request_id: 'r' });
        }, { credentials });
        assert.equal(error.code, 'upstream_auth_failed', `${status} ${code}`);
        assert.equal(requests.length, 1, 'only 1004 is retried');
      }
    }
    assert.equal((await assertErrorCode(answer(401, fixture('error-1000')), 'upstream_auth_failed')).detail, "kling rejected the gateway's token (code 1000)");
  });

  it('account codes (1100 exception, 1101 arrears, 1102 pack depleted, 1103 no permission) are upstream_auth_failed, though sent with HTTP 429', async () => {
    for (const code of [1100, 1101, 1102, 1103]) {
      const error = await assertErrorCode(answer(429, { code, message: 'Account exception', request_id: 'r' }), 'upstream_auth_failed');
      assert.equal(error.detail, `kling refused the account behind the gateway's keys (code ${code})`);
    }
    await assertErrorCode(answer(429, fixture('error-1101')), 'upstream_auth_failed');
  });

  it('1302 (too fast) and 1303 (concurrency) are upstream_rate_limited with Retry-After, or 5 s', async () => {
    assert.equal((await assertErrorCode(answer(429, fixture('error-1302'), { 'retry-after': '9' }), 'upstream_rate_limited')).retryAfter, 9);
    assert.equal((await assertErrorCode(answer(429, fixture('error-1303')), 'upstream_rate_limited')).retryAfter, 5);
    assert.equal((await assertErrorCode(answer(200, fixture('error-1302')), 'upstream_rate_limited')).retryAfter, 5);
  });

  it('an HTTP 429 without an envelope is upstream_rate_limited', async () => {
    assert.equal((await assertErrorCode(answer(429, 'Too Many Requests', { 'retry-after': '3' }), 'upstream_rate_limited')).retryAfter, 3);
  });

  it('5000-5002, parameter codes and unknown codes are upstream_error, in a 200 as in a 5xx', async () => {
    await assertErrorCode(answer(503, fixture('error-5001')), 'upstream_error');
    await assertErrorCode(answer(200, fixture('error-5001')), 'upstream_error');
    for (const code of [5000, 5002, 1200, 1201, 1301, 9999, 'oops']) {
      await assertErrorCode(answer(200, { code, message: 'x', request_id: 'r' }), 'upstream_error');
    }
    await assertErrorCode(answer(502, '<html>Bad Gateway</html>'), 'upstream_error');
  });

  it('an HTTP 401 or 403 without an envelope is upstream_auth_failed, and not retried', async () => {
    for (const status of [401, 403]) {
      const requests: MadeRequest[] = [];
      const error = await lookupError(defineKling({ now: () => NOW_MS }), NATIVE_ID, (request) => {
        requests.push(request);
        return answer(status, '');
      }, { credentials });
      assert.deepEqual([error.code, requests.length], ['upstream_auth_failed', 1]);
    }
  });
});
