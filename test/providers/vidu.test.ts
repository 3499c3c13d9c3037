/**
 * The vidu adapter against recorded shapes: one GET of `/ent/v2/tasks/{id}/creations` with
 * `Authorization: Token <key>` (never Bearer); every state word; each creation's video and
 * its cover image as a second output; every failure code with its sentence; not-found
 * (404 in any shape, a relay's 400 TaskNotFound), the 400 codes that are about a call,
 * auth, rate limits, 5xx and bodies that are not a task.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_WITHOUT_DETAILS } from '../../src/providers/normalize.js';
import { vidu } from '../../src/providers/vidu/index.js';
import { FAILURE_MESSAGES, UNKNOWN_CODE_MESSAGE } from '../../src/providers/vidu/map.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = '812345678901234567';
const UUID = '6928de47-2e53-4ee6-901b-be05a8bf7669';
const BASE_URL = 'https://api.vidu.com';
const DIGITS_RULE = '^\\d{10,19}$';
const FILES = `https://files.vidu.example/infer/tasks/${ID}`;
const VIDEO_URL = `${FILES}/video.mp4?auth_key=example-signed-link`;
const COVER_URL = `${FILES}/cover.jpeg?auth_key=example-signed-link`;

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/vidu/${name}.json`, import.meta.url), 'utf8');
}

/** The lookup of `id` when its one call is answered with `response`. */
const lookup = (response: UpstreamResponse, id = ID) => runLookup(vidu, id, () => response);
const stateOf = async (name: string, id = ID) => (await lookup(answer(200, fixture(name)), id)).state;
const errorOf = (response: UpstreamResponse) => lookupError(vidu, ID, () => response);

describe('vidu definition', () => {
  it('reads VIDU_API_KEY, asks api.vidu.com every 5 s, and claims numeric ids at order 42', () => {
    assert.equal(vidu.name, 'vidu');
    assert.deepEqual(vidu.credentials, [{ setting: 'apiKey', env: 'VIDU_API_KEY', secret: true }]);
    assert.equal(vidu.defaultBaseUrl, 'https://api.vidu.com');
    assert.equal(vidu.cadenceMs, 5000);
    assert.deepEqual(vidu.idRules, [{ pattern: DIGITS_RULE, order: 42 }]);
    assert.equal(vidu.expand, undefined);
  });

  it('has its own state words, no canceled one', () => {
    assert.deepEqual(vidu.statuses, {
      queued: ['created', 'queueing'],
      in_progress: ['processing'],
      succeeded: ['success'],
      failed: ['failed'],
    });
  });

  it("takes 10 to 19 digits, or a relay's UUID, as a task id; nothing else", () => {
    const { pattern, example } = vidu.nativeIds;
    assert.equal(example, ID);
    for (const id of [ID, '1234567890', '1234567890123456789', UUID, UUID.toUpperCase()]) assert.ok(pattern.test(id), id);
    for (const id of ['123456789', '12345678901234567890', `${ID}a`, ` ${ID}`, `${ID}/creations`, '-1234567890', '1e17', UUID.replaceAll('-', ''), `${UUID}0`, 'task_abc001', '']) {
      assert.ok(!pattern.test(id), id);
    }
  });

  it('routes a bare numeric id to kling, minimax, then vidu; vidu:<uuid> to vidu alone; vidu:<other form> is a 400 naming the form', () => {
    const router = new Router(loadConfig({}).routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    const bare = [...new Set(router.resolve(ID).candidates.map((candidate) => candidate.provider))];
    assert.deepEqual(bare.slice(0, 3), ['kling', 'minimax', 'vidu']);
    assert.ok(router.resolve(ID).candidates.some((candidate) => candidate.provider === 'vidu' && candidate.nativeId === ID));
    assert.deepEqual(router.resolve(`vidu:${UUID}`).candidates, [{ provider: 'vidu', nativeId: UUID }]);
    assert.ok(!router.resolve(UUID).candidates.some((candidate) => candidate.provider === 'vidu'), 'a bare UUID is never asked of vidu');
    assert.throws(
      () => router.resolve('vidu:task_abc001'),
      (error) =>
        error instanceof GatewayError &&
        error.code === 'invalid_task_id' &&
        error.detail === `The id does not have the form its provider uses: a vidu task id is a task id of 10 to 19 digits (or, at a relay that copies Vidu's API, a UUID), e.g. ${ID}.`,
    );
  });
});

describe('vidu requests', () => {
  it('one GET of /ent/v2/tasks/{id}/creations with Authorization: Token <key>, and nothing else', async () => {
    const { requests } = await runLookup(vidu, ID, () => answer(200, fixture('task-processing')), { credentials: { apiKey: 'vda_test-key' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.template, request.headers]),
      [['GET', `${BASE_URL}/ent/v2/tasks/${ID}/creations`, '/ent/v2/tasks/{id}/creations', { authorization: 'Token vda_test-key' }]],
    );
  });

  it('sends the Token scheme (never Bearer) on every call, whatever the answer', async () => {
    for (const response of [answer(200, fixture('task-succeeded')), answer(404, fixture('error-404')), answer(401, fixture('error-401')), answer(503, '')]) {
      const made: Array<Record<string, string>> = [];
      await runLookup(
        vidu,
        ID,
        (request) => {
          made.push(request.headers);
          return response;
        },
        { credentials: { apiKey: 'vda_test-key' } },
      ).catch(() => undefined);
      assert.deepEqual(made, [{ authorization: 'Token vda_test-key' }], String(response.statusCode));
    }
  });

  it("asks the China host when VIDU_BASE_URL names it, keeps a relay base URL's path, and sends a UUID as given", async () => {
    const china = await runLookup(vidu, ID, () => answer(200, fixture('task-queueing')), { baseUrl: 'https://api.vidu.cn' });
    assert.equal(china.requests[0]?.url, `https://api.vidu.cn/ent/v2/tasks/${ID}/creations`);
    const relay = await runLookup(vidu, UUID, () => answer(200, fixture('task-queueing')), { baseUrl: 'https://relay.example/vidu' });
    assert.equal(relay.requests[0]?.url, `https://relay.example/vidu/ent/v2/tasks/${UUID}/creations`);
  });
});

describe('vidu state words', () => {
  it('created and queueing → queued; processing → in_progress; never any progress', async () => {
    for (const [name, word, status] of [
      ['task-created', 'created', 'queued'],
      ['task-queueing', 'queueing', 'queued'],
      ['task-processing', 'processing', 'in_progress'],
    ] as const) {
      assert.deepEqual(await stateOf(name), {
        provider_task_id: ID,
        status,
        provider_status: word,
        progress: null,
        url: null,
        outputs: [],
        error: null,
        model: null,
        created_at: null,
        completed_at: null,
        expires_at: null,
      });
    }
  });

  it('words in any case; a word outside the table is in_progress and kept; a blank state is no task', async () => {
    assert.equal((await lookup(answer(200, { state: 'Queueing' }))).state.status, 'queued');
    assert.equal((await lookup(answer(200, { state: 'SUCCESS', creations: [{ url: VIDEO_URL }] }))).state.status, 'succeeded');
    const odd = await lookup(answer(200, { state: 'scheduling', err_code: '' }));
    assert.deepEqual([odd.state.status, odd.state.provider_status, odd.state.error], ['in_progress', 'scheduling', null]);
    for (const state of ['', '   ']) {
      const error = await errorOf(answer(200, { state, creations: [] }));
      assert.deepEqual([error.code, error.detail], ['upstream_invalid_response', 'vidu returned a task without a state'], JSON.stringify(state));
    }
  });
});

describe('vidu results', () => {
  it('maps the documented example: its video first (the url), its cover image as a second output', async () => {
    assert.deepEqual(await stateOf('task-succeeded'), {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'success',
      progress: 100,
      url: VIDEO_URL,
      outputs: [
        { type: 'video', url: VIDEO_URL },
        { type: 'image', url: COVER_URL },
      ],
      error: null,
      model: null,
      created_at: null,
      completed_at: null,
      // The links last 24 hours from the answer that gave them; no answer says when that was.
      expires_at: null,
    });
  });

  it("a relay's copy: its id and created_at read, watermarked_url not a second video", async () => {
    const state = await stateOf('task-succeeded-relay', '812345678901234500');
    assert.deepEqual(
      [state.provider_task_id, state.created_at, state.url, state.outputs],
      [
        ID,
        '2026-05-01T10:00:00Z',
        VIDEO_URL,
        [
          { type: 'video', url: VIDEO_URL },
          { type: 'image', url: COVER_URL },
        ],
      ],
    );
  });

  it('the watermarked video stands in only for a creation without a url', async () => {
    const watermarked = `${FILES}/video-watermarked.mp4`;
    const { state } = await lookup(answer(200, { state: 'success', creations: [{ url: '', watermarked_url: watermarked, cover_url: COVER_URL }] }));
    assert.deepEqual(state.outputs, [
      { type: 'video', url: watermarked },
      { type: 'image', url: COVER_URL },
    ]);
  });

  it('several creations: each video then its cover, url the first video; a creation with only a cover gives an image', async () => {
    const { state } = await lookup(
      answer(200, {
        state: 'success',
        creations: [
          { id: '1', cover_url: `${FILES}/0.jpeg` },
          { id: '2', url: `${FILES}/1.mp4`, cover_url: `${FILES}/1.jpeg` },
          { id: '3', url: `${FILES}/2.mp4` },
        ],
      }),
    );
    assert.deepEqual(state.outputs, [
      { type: 'image', url: `${FILES}/0.jpeg` },
      { type: 'video', url: `${FILES}/1.mp4` },
      { type: 'image', url: `${FILES}/1.jpeg` },
      { type: 'video', url: `${FILES}/2.mp4` },
    ]);
    assert.equal(state.url, `${FILES}/1.mp4`);
    const coverOnly = await lookup(answer(200, { state: 'success', creations: [{ cover_url: COVER_URL }] }));
    assert.deepEqual([coverOnly.state.url, coverOnly.state.outputs], [COVER_URL, [{ type: 'image', url: COVER_URL }]]);
  });

  it('only http(s) URLs are files; a relative one is resolved against the base URL', async () => {
    const { state } = await lookup(
      answer(200, {
        state: 'success',
        creations: [null, 'x', { url: 'data:video/mp4;base64,AAAA', cover_url: 'not a url' }, { url: '/files/v.mp4', cover_url: 42 }, { url: 'https://u:p@cdn.example/v.mp4' }],
      }),
    );
    assert.deepEqual(state.outputs, [
      { type: 'video', url: `${BASE_URL}/files/v.mp4` },
      { type: 'video', url: 'https://cdn.example/v.mp4' },
    ]);
  });

  it('a success without a file is upstream_invalid_response', async () => {
    for (const creations of [undefined, null, [], [{}], [{ url: '', cover_url: '' }], [{ url: 'not a url' }], 'https://cdn.example/v.mp4', { url: VIDEO_URL }]) {
      const error = await errorOf(answer(200, { state: 'success', err_code: '', creations }));
      assert.deepEqual([error.code, error.detail], ['upstream_invalid_response', 'vidu reported a succeeded task without a usable result URL'], JSON.stringify(creations));
    }
  });

  it('creations on a task that has not succeeded are not results', async () => {
    const { state } = await lookup(answer(200, { state: 'processing', creations: [{ url: VIDEO_URL, cover_url: COVER_URL }] }));
    assert.deepEqual([state.status, state.outputs, state.url], ['in_progress', [], null]);
  });

  it('created_at in any form the gateway reads; a relay id that is a number is not trusted (its digits may be rounded)', async () => {
    assert.equal((await lookup(answer(200, { state: 'created', created_at: '2026-05-01 18:00:00+08:00' }))).state.created_at, '2026-05-01T10:00:00Z');
    assert.equal((await lookup(answer(200, { state: 'created', created_at: 1777629600 }))).state.created_at, '2026-05-01T10:00:00Z');
    assert.equal((await lookup(answer(200, { state: 'created', created_at: 'yesterday' }))).state.created_at, null);
    const numeric = `{"id": 812345678901234599, "state": "created"}`;
    assert.equal((await lookup(answer(200, numeric))).state.provider_task_id, ID);
  });
});

describe('vidu failures', () => {
  it('the documented failure: err_code is the code, the gateway\'s sentence for it the message', async () => {
    assert.deepEqual(await stateOf('task-failed'), {
      provider_task_id: ID,
      status: 'failed',
      provider_status: 'failed',
      progress: null,
      url: null,
      outputs: [],
      error: { code: 'CreationPolicyViolation', message: 'The generated content was flagged by the content policy' },
      model: null,
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('every failure code of Vidu\'s list has its own sentence', async () => {
    const expected: Array<[string, string]> = [
      ['CreationPolicyViolation', 'The generated content was flagged by the content policy'],
      ['TaskPromptPolicyViolation', 'The prompt was flagged by the content policy'],
      ['AuditSubmitIllegal', 'The input did not pass the safety review'],
      ['CreditInsufficient', 'The account did not have enough credits for the task'],
      ['ModelUnavailable', 'The requested model was unavailable, so the task could not run'],
      ['UserCancelled', 'The task was stopped by its owner before it finished'],
      ['ImageDownloadFailure', 'An input image could not be downloaded from its URL'],
      ['ImageFormatInvalid', 'An input image is not in an accepted format'],
      ['PageSizeOutOfRange', "An input image's size or aspect ratio is outside the accepted range"],
      ['ImageCheckBodyJointsFailed', 'No person could be detected in the input image'],
      ['ImageCheckFaceFailed', 'No face could be detected in the input image'],
      ['ImageObjectsUndetected', 'The person or face in the input image is too obstructed'],
      ['InternalServiceFailure', 'The provider failed internally while running the task'],
    ];
    assert.deepEqual([...FAILURE_MESSAGES], expected);
    for (const [code, message] of expected) {
      const { state } = await lookup(answer(200, { state: 'failed', err_code: code, credits: 0, payload: '', creations: [] }));
      assert.deepEqual([state.status, state.error], ['failed', { code, message }], code);
    }
  });

  it('UserCancelled is a failure, not canceled: Vidu has no canceled state', async () => {
    const state = await stateOf('task-failed-user-cancelled');
    assert.deepEqual([state.status, state.provider_status, state.error?.code], ['failed', 'failed', 'UserCancelled']);
  });

  it('an unknown code is kept with a sentence saying so; no code at all gets the generic failure', async () => {
    assert.deepEqual((await lookup(answer(200, { state: 'failed', err_code: 'VideoTooLong' }))).state.error, { code: 'VideoTooLong', message: UNKNOWN_CODE_MESSAGE });
    for (const fields of [{}, { err_code: '' }, { err_code: '  ' }, { err_code: null }, { err_code: 42 }, { err_code: ['CreationPolicyViolation'] }]) {
      assert.deepEqual((await lookup(answer(200, { state: 'failed', ...fields }))).state.error, FAILURE_WITHOUT_DETAILS, JSON.stringify(fields));
    }
  });

  it('an err_code on a task that did not fail is no error', async () => {
    for (const state of ['processing', 'queueing']) {
      assert.equal((await lookup(answer(200, { state, err_code: 'CreationPolicyViolation' }))).state.error, null, state);
    }
    const succeeded = await lookup(answer(200, { state: 'success', err_code: 'UserCancelled', creations: [{ url: VIDEO_URL }] }));
    assert.deepEqual([succeeded.state.status, succeeded.state.error], ['succeeded', null]);
  });
});

describe('vidu errors', () => {
  it('404 → task_not_found, in the inferred shape, CreationNotFound, or any other body', async () => {
    for (const body of [fixture('error-404'), fixture('error-404-creation'), { code: 'TaskNotFound', message: 'task not found' }, { error: { code: 404 } }, '', '<html>Not Found</html>']) {
      const error = await errorOf(answer(404, body));
      assert.deepEqual([error.code, error.detail], ['task_not_found', 'vidu has no task with this id'], JSON.stringify(body));
    }
  });

  it("a 400 that names TaskNotFound or CreationNotFound, or says the task does not exist (a relay's way) → task_not_found", async () => {
    assert.equal((await errorOf(answer(400, fixture('error-400-task-not-found')))).code, 'task_not_found');
    for (const body of [{ reason: 'CreationNotFound' }, { code: 'TaskNotFound' }, { err_code: 'TaskNotFound' }, { error: { reason: 'TaskNotFound' } }, { code: 'task_not_exist', message: 'task_not_exist' }, { message: 'Task not found.' }]) {
      assert.equal((await errorOf(answer(400, body))).code, 'task_not_found', JSON.stringify(body));
    }
  });

  it('a 400 with any of the codes about a call (credits, policy, model, images…) → upstream_error with our own sentence', async () => {
    const codes = ['CreationPolicyViolation', 'AuditSubmitIllegal', 'CreditInsufficient', 'ModelUnavailable', 'UserCancelled', 'ImageDownloadFailure', 'BadRequest', 'FieldInvalid'];
    for (const body of [fixture('error-400-credit-insufficient'), ...codes.map((reason) => ({ code: 400, reason, message: reason.toLowerCase(), metadata: {} })), 'TaskNotFound', '']) {
      const error = await errorOf(answer(400, body));
      assert.deepEqual([error.code, error.detail], ['upstream_error', 'vidu answered HTTP 400'], JSON.stringify(body));
    }
  });

  it('401 (Unauthorized) and 403 → upstream_auth_failed', async () => {
    for (const [statusCode, body] of [
      [401, fixture('error-401')],
      [403, { code: 403, reason: 'Forbidden', message: 'forbidden' }],
    ] as const) {
      const error = await errorOf(answer(statusCode, body));
      assert.deepEqual([error.code, error.detail], ['upstream_auth_failed', `vidu rejected the gateway's credentials (HTTP ${statusCode})`]);
    }
  });

  it('429 (QuotaExceeded, TooManyRequests) → upstream_rate_limited with Retry-After, else 5 s', async () => {
    for (const name of ['error-429-quota-exceeded', 'error-429-too-many-requests']) {
      const withHeader = await errorOf(answer(429, fixture(name), { 'retry-after': '12' }));
      assert.deepEqual([withHeader.code, withHeader.retryAfter, withHeader.detail], ['upstream_rate_limited', 12, 'vidu is rate limiting the gateway (HTTP 429)'], name);
      assert.equal((await errorOf(answer(429, fixture(name)))).retryAfter, 5, name);
    }
  });

  it('5xx and other statuses → upstream_error; a body that is not a task → upstream_invalid_response', async () => {
    for (const statusCode of [405, 409, 499, 500, 502, 503, 504]) {
      const error = await errorOf(answer(statusCode, { code: statusCode, reason: 'InternalServiceFailure', message: 'internal service failure' }));
      assert.deepEqual([error.code, error.detail], ['upstream_error', `vidu answered HTTP ${statusCode}`]);
    }
    for (const body of ['<html>Just a moment...</html>', '', '[]', { err_code: '', creations: [{ url: VIDEO_URL }] }, { state: 3 }, { code: 404, reason: 'TaskNotFound', message: 'task not found' }]) {
      const error = await errorOf(answer(200, body));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(body));
      if (typeof body === 'object') assert.ok(!error.detail.includes('TaskNotFound'));
    }
  });
});
