/**
 * The pixverse adapter against recorded shapes: one GET of the video result with
 * `API-KEY` (no `Authorization`) and a new `Ai-trace-id` UUID on every call; the integer
 * status words (5, 1, 7, 8); the url only once done; every `ErrCode` class inside an
 * HTTP 200 (rate limit, credentials, unknown video, anything else), never a task failure;
 * HTTP errors; ids kept digit for digit.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { pixverse } from '../../src/providers/pixverse/index.js';
import { envelopeKind, errCodeOf } from '../../src/providers/pixverse/map.js';
import { Router } from '../../src/routing.js';
import type { UpstreamCall } from '../../src/providers/types.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = '315468294118400';
const BASE_URL = 'https://app-api.pixverse.ai';
const VIDEO_URL = `https://media.pixverse.ai/openapi/output/${ID}/video.mp4`;
const DIGITS_RULE = '^\\d{10,19}$';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/pixverse/${name}.json`, import.meta.url), 'utf8');
}

/** The lookup of `id` when its one call is answered with `response`. */
const lookup = (response: UpstreamResponse, id = ID) => runLookup(pixverse, id, () => response);
const stateOf = async (name: string, id = ID) => (await lookup(answer(200, fixture(name)), id)).state;
const errorOf = (response: UpstreamResponse) => lookupError(pixverse, ID, () => response);

describe('pixverse definition', () => {
  it('reads PIXVERSE_API_KEY, asks app-api.pixverse.ai every 4 s, and claims numeric ids last of four (order 43)', () => {
    assert.equal(pixverse.name, 'pixverse');
    assert.deepEqual(pixverse.credentials, [{ setting: 'apiKey', env: 'PIXVERSE_API_KEY', secret: true }]);
    assert.equal(pixverse.defaultBaseUrl, BASE_URL);
    assert.equal(pixverse.cadenceMs, 4000);
    assert.deepEqual(pixverse.idRules, [{ pattern: DIGITS_RULE, order: 43 }]);
    assert.equal(pixverse.expand, undefined);
  });

  it('has the integer status words as its own: 5 running, 1 done, 7 and 8 failed; no queue, no cancel', () => {
    assert.deepEqual(pixverse.statuses, { in_progress: ['5'], succeeded: ['1'], failed: ['7', '8'] });
  });

  it('takes 10 to 19 digits as a video id, nothing else', () => {
    const { pattern, example } = pixverse.nativeIds;
    assert.equal(example, ID);
    for (const id of [ID, '1234567890', '9'.repeat(19), '9007199254740993']) assert.ok(pattern.test(id), id);
    for (const id of ['123456789', '1'.repeat(20), `${ID}a`, `-${ID}`, `${ID}.0`, `${ID}/x`, '', 'task_abc001']) assert.ok(!pattern.test(id), id);
  });

  it('a bare numeric id asks kling, minimax and pixverse (vidu when there is one), pixverse last; pixverse:<other form> is a 400', () => {
    const router = new Router(loadConfig({}).routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    const known = new Set<string>(PROVIDERS.map((definition) => definition.name));
    // Kling's expand makes two candidates of its own (its two actions).
    const candidates = [...new Set(router.resolve(ID).candidates.map((candidate) => candidate.provider))];
    assert.deepEqual(candidates, ['kling', 'minimax', 'vidu', 'pixverse'].filter((name) => known.has(name)));
    assert.deepEqual(router.resolve(ID).candidates.at(-1), { provider: 'pixverse', nativeId: ID });
    assert.deepEqual(router.resolve(`pixverse:${ID}`).candidates, [{ provider: 'pixverse', nativeId: ID }]);
    assert.throws(
      () => router.resolve('pixverse:video_abc'),
      (error) =>
        error instanceof GatewayError &&
        error.code === 'invalid_task_id' &&
        error.detail === `The id does not have the form its provider uses: a pixverse task id is an integer video id of 10 to 19 digits, e.g. ${ID}.`,
    );
  });
});

describe('pixverse requests', () => {
  it('one GET of /openapi/v2/video/result/{id} with API-KEY and an Ai-trace-id, no Authorization', async () => {
    const { requests } = await runLookup(pixverse, ID, () => answer(200, fixture('result-generating')), { credentials: { apiKey: 'pv-key-1' } });
    assert.equal(requests.length, 1);
    const [made] = requests;
    assert.deepEqual([made?.method ?? 'GET', made?.url, made?.template], ['GET', `${BASE_URL}/openapi/v2/video/result/${ID}`, '/openapi/v2/video/result/{id}']);
    assert.deepEqual(Object.keys(made?.headers ?? {}).sort(), ['ai-trace-id', 'api-key']);
    assert.equal(made?.headers['api-key'], 'pv-key-1');
    assert.match(made?.headers['ai-trace-id'] ?? '', UUID_V4);
    assert.ok(!made?.template.includes(ID), 'the id stays out of the span template');
  });

  it('a new trace id on every request: three lookups on one connection, three distinct UUIDs, the key the same', async () => {
    // One connection, as the gateway keeps one per provider, and a call that adds its headers as the gateway's does.
    const sent: Array<Record<string, string>> = [];
    const call: UpstreamCall = {
      async request(request) {
        sent.push(await connection.authorize(new URL(`${BASE_URL}${request.path}`), call));
        return answer(200, fixture('result-generating'));
      },
      remainingMs: 10_000,
    };
    const connection = pixverse.connect({
      settings: { name: 'pixverse', credentials: { apiKey: 'k' }, baseUrl: BASE_URL, urls: {}, pollIntervalMs: 4000, connections: 1 },
      addSecret: () => undefined,
      newCall: () => call,
    });
    for (let lookupIndex = 0; lookupIndex < 3; lookupIndex++) assert.equal((await connection.lookup(ID, call)).provider_status, '5');
    const traceIds = sent.map((headers) => headers['ai-trace-id'] ?? '');
    assert.equal(traceIds.length, 3);
    for (const traceId of traceIds) assert.match(traceId, UUID_V4);
    assert.equal(new Set(traceIds).size, 3);
    assert.deepEqual(sent.map((headers) => Object.keys(headers).sort().join()), Array(3).fill('ai-trace-id,api-key'));
    // Whatever else asks for the headers (a /content fetch from its origin) gets a trace id of its own too.
    const more = await Promise.all([0, 1, 2, 3].map(() => Promise.resolve(connection.authorize(new URL(`${BASE_URL}/x`), call))));
    assert.equal(new Set([...traceIds, ...more.map((headers) => headers['ai-trace-id'])]).size, 7);
  });

  it("keeps the base URL's own path (a proxy, or the China platform)", async () => {
    const { requests } = await runLookup(pixverse, ID, () => answer(200, fixture('result-generating')), { baseUrl: 'https://app-api.pixverseai.cn' });
    assert.equal(requests[0]?.url, `https://app-api.pixverseai.cn/openapi/v2/video/result/${ID}`);
    const proxied = await runLookup(pixverse, ID, () => answer(200, fixture('result-generating')), { baseUrl: 'https://proxy.example/pixverse' });
    assert.equal(proxied.requests[0]?.url, `https://proxy.example/pixverse/openapi/v2/video/result/${ID}`);
  });
});

describe('pixverse status words', () => {
  const running = {
    provider_task_id: ID,
    status: 'in_progress',
    provider_status: '5',
    progress: null,
    url: null,
    outputs: [],
    error: null,
    model: null,
    created_at: null,
    completed_at: null,
    expires_at: null,
  };

  it('5 → in_progress, its empty url no output, in both shapes', async () => {
    assert.deepEqual(await stateOf('result-generating'), running);
    assert.deepEqual(await stateOf('result-generating-documented'), running);
  });

  it('1 → succeeded with Resp.url as the one video, in both shapes; width, seed and prompt are not read', async () => {
    const done = {
      ...running,
      status: 'succeeded',
      provider_status: '1',
      progress: 100,
      url: VIDEO_URL,
      outputs: [{ type: 'video', url: VIDEO_URL }],
    };
    assert.deepEqual(await stateOf('result-succeeded'), done);
    assert.deepEqual(await stateOf('result-succeeded-documented'), done);
  });

  it('7 → failed, content_moderation; 8 → failed, generation_failed', async () => {
    const moderated = await stateOf('result-moderated');
    assert.deepEqual([moderated.status, moderated.provider_status, moderated.outputs, moderated.url], ['failed', '7', [], null]);
    assert.deepEqual(moderated.error, { code: 'content_moderation', message: "The video did not pass PixVerse's content moderation" });
    const failed = await stateOf('result-failed');
    assert.deepEqual([failed.status, failed.provider_status], ['failed', '8']);
    assert.deepEqual(failed.error, { code: 'generation_failed', message: 'PixVerse failed to generate the video' });
  });

  it('a status sent as a numeric string reads the same; another integer is its text, served as in_progress', async () => {
    const body = (status: unknown) => answer(200, { ErrCode: 0, ErrMsg: 'success', Resp: { id: Number(ID), status, url: '' } });
    assert.deepEqual([(await lookup(body('7'))).state.status, (await lookup(body('7'))).state.provider_status], ['failed', '7']);
    assert.equal((await lookup(body(' 5 '))).state.provider_status, '5');
    for (const [status, word] of [[6, '6'], [0, '0'], ['10', '10']] as const) {
      const { state } = await lookup(body(status));
      assert.deepEqual([state.status, state.provider_status, state.error], ['in_progress', word, null], String(status));
    }
  });

  it('a url beside a status other than 1 is not an output; a 1 without a url is upstream_invalid_response', async () => {
    const early = await lookup(answer(200, { ErrCode: 0, ErrMsg: 'success', Resp: { id: Number(ID), status: 5, url: VIDEO_URL } }));
    assert.deepEqual([early.state.status, early.state.outputs], ['in_progress', []]);
    for (const resp of [JSON.parse(fixture('result-succeeded-without-url')), { ErrCode: 0, Resp: { status: 1 } }, { ErrCode: 0, Resp: { status: 1, url: 'not a url' } }]) {
      const error = await errorOf(answer(200, resp));
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(resp));
    }
  });

  it('a result without a status, or without Resp, is upstream_invalid_response; a body that is not JSON too', async () => {
    for (const body of [{ ErrCode: 0, ErrMsg: 'success', Resp: { id: Number(ID), url: '' } }, { ErrCode: 0, ErrMsg: 'success' }, { ErrCode: 0, Resp: null }, { ErrCode: 0, Resp: { status: 'done' } }, { ErrCode: 0, Resp: { status: 1.5 } }]) {
      const error = await errorOf(answer(200, body));
      assert.deepEqual([error.code, error.detail], ['upstream_invalid_response', 'pixverse returned a video result without a status'], JSON.stringify(body));
    }
    assert.equal((await errorOf(answer(200, '<html>busy</html>'))).code, 'upstream_invalid_response');
  });

  it('the task id is the one asked for, digit for digit, whatever Resp.id says (a JSON number past 2^53 loses digits)', async () => {
    const big = '9007199254740993';
    const { state } = await lookup(answer(200, `{"ErrCode":0,"ErrMsg":"success","Resp":{"id":${big},"status":5,"url":""}}`), big);
    assert.equal(state.provider_task_id, big);
    const { requests } = await runLookup(pixverse, big, () => answer(200, fixture('result-generating')));
    assert.equal(requests[0]?.url, `${BASE_URL}/openapi/v2/video/result/${big}`);
  });
});

describe('pixverse API errors inside an HTTP 200: never a task failure', () => {
  it('500044 (the concurrency limit) → upstream_rate_limited, Retry-After 5 s or the header sent', async () => {
    const limited = await errorOf(answer(200, fixture('error-concurrency-limit')));
    assert.deepEqual([limited.code, limited.retryAfter, limited.detail], ['upstream_rate_limited', 5, 'pixverse is rate limiting the gateway (ErrCode 500044)']);
    const named = await errorOf(answer(200, fixture('error-concurrency-limit'), { 'retry-after': '12' }));
    assert.equal(named.retryAfter, 12);
    // Wording alone, under a code the table does not list.
    const worded = await errorOf(answer(200, { ErrCode: 500099, ErrMsg: 'Too many requests, slow down', Resp: null }));
    assert.equal(worded.code, 'upstream_rate_limited');
  });

  it('400012 (invalid account / API-KEY) and 500020 (no permission) → upstream_auth_failed; so does wording about the key', async () => {
    for (const [name, code] of [['error-invalid-api-key', 400012], ['error-no-permission', 500020]] as const) {
      const error = await errorOf(answer(200, fixture(name)));
      assert.deepEqual([error.code, error.detail], ['upstream_auth_failed', `pixverse rejected the gateway's credentials (ErrCode ${code})`], name);
    }
    const worded = await errorOf(answer(200, { ErrCode: 10005, ErrMsg: 'API-KEY not found', Resp: null }));
    assert.equal(worded.code, 'upstream_auth_failed', 'a key that is not found is about the key, not the video');
  });

  it('500008 (requested data not found) and wording that the video does not exist → task_not_found', async () => {
    for (const name of ['error-data-not-found', 'error-video-does-not-exist']) {
      const error = await errorOf(answer(200, fixture(name)));
      assert.deepEqual([error.code, error.detail], ['task_not_found', 'pixverse has no task with this id'], name);
    }
  });

  it('any other code (balance, load, a reused or bad trace id, unknown) → upstream_error naming the code, never the message', async () => {
    for (const [name, code] of [
      ['error-insufficient-balance', 500090],
      ['error-high-load', 500069],
      ['error-trace-id-reused', 400099],
      ['error-trace-id-invalid', 400017],
    ] as const) {
      const error = await errorOf(answer(200, fixture(name)));
      assert.deepEqual([error.code, error.detail], ['upstream_error', `pixverse answered with an API error (ErrCode ${code})`], name);
      assert.deepEqual((error.cause as { ErrCode: unknown }).ErrCode, code, 'the raw code is kept for the logs');
    }
    const textual = await errorOf(answer(200, { ErrCode: 'E42', ErrMsg: 'odd' }));
    assert.deepEqual([textual.code, textual.detail], ['upstream_error', 'pixverse answered with an API error']);
  });

  it('an error envelope wins over a Resp that looks like a video: a failed-looking answer stays an error', async () => {
    const error = await errorOf(answer(200, { ErrCode: 500044, ErrMsg: 'Reached the limit for concurrent generations.', Resp: { id: Number(ID), status: 8, url: '' } }));
    assert.equal(error.code, 'upstream_rate_limited');
  });

  it('ErrCode 0, "0", empty or absent is success', async () => {
    for (const ErrCode of [0, '0', '', undefined, null]) {
      const { state } = await lookup(answer(200, { ErrCode, ErrMsg: 'success', Resp: { id: Number(ID), status: 5, url: '' } }));
      assert.equal(state.status, 'in_progress', String(ErrCode));
    }
    assert.deepEqual([errCodeOf({ ErrCode: ' 500044 ' }), errCodeOf({ ErrCode: 'x' })], [500044, Number.NaN]);
  });

  it('classifies by code first, then wording: the rate limit, then credentials, then a missing video', () => {
    assert.equal(envelopeKind(500044, 'video does not exist'), 'rate_limited');
    assert.equal(envelopeKind(500008, 'Invalid API-KEY'), 'not_found');
    assert.equal(envelopeKind(1, 'Reached the limit for concurrent generations.'), 'rate_limited');
    assert.equal(envelopeKind(1, 'Unauthorized'), 'auth');
    assert.equal(envelopeKind(1, 'the video was not found'), 'not_found');
    assert.equal(envelopeKind(1, 'Requested data not found'), 'not_found');
    assert.equal(envelopeKind(1, 'Content has been deleted'), 'other');
  });
});

describe('pixverse HTTP errors', () => {
  it('401 and 403 → upstream_auth_failed; 429 → upstream_rate_limited with its Retry-After', async () => {
    for (const status of [401, 403]) {
      const error = await errorOf(answer(status, fixture('error-invalid-api-key')));
      assert.deepEqual([error.code, error.detail], ['upstream_auth_failed', `pixverse rejected the gateway's credentials (HTTP ${status})`]);
    }
    const limited = await errorOf(answer(429, fixture('error-concurrency-limit'), { 'retry-after': '3' }));
    assert.deepEqual([limited.code, limited.retryAfter], ['upstream_rate_limited', 3]);
  });

  it('404 → task_not_found; another status whose envelope says the video does not exist too', async () => {
    assert.equal((await errorOf(answer(404, 'not found'))).code, 'task_not_found');
    assert.equal((await errorOf(answer(400, fixture('error-video-does-not-exist')))).code, 'task_not_found');
  });

  it("a 4xx or 5xx whose envelope is a rate limit or a credential error is that; any other is upstream_error", async () => {
    assert.equal((await errorOf(answer(500, fixture('error-concurrency-limit')))).code, 'upstream_rate_limited');
    assert.equal((await errorOf(answer(400, fixture('error-invalid-api-key')))).code, 'upstream_auth_failed');
    for (const [status, body] of [[400, fixture('error-trace-id-invalid')], [500, fixture('error-high-load')], [502, '<html>bad gateway</html>'], [503, '']] as const) {
      const error = await errorOf(answer(status, body));
      assert.deepEqual([error.code, error.detail], ['upstream_error', `pixverse answered HTTP ${status}`], String(status));
    }
  });
});
