import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { ark } from '../../src/providers/ark/index.js';
import { EXPIRED_CODE, EXPIRED_MESSAGE, resultUrl } from '../../src/providers/ark/map.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { FAILURE_WITHOUT_DETAILS, resolveResultUrl } from '../../src/providers/normalize.js';
import type { TaskState } from '../../src/providers/types.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = 'cgt-20250331175019-68d9t';
const BASE_URL = 'https://ark.ap-southeast.bytepluses.com';
const KEY = 'ark-test-key-7c1e';
const TOS = 'https://ark-content-generation-ap-southeast-1.tos-ap-southeast-1.bytepluses.com';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/ark/${name}.json`, import.meta.url), 'utf8');
}

function fixtureBody(name: string): Record<string, unknown> {
  return JSON.parse(fixture(name)) as Record<string, unknown>;
}

/** The state the lookup gives for one answer to its one call. */
async function stateOf(response: UpstreamResponse, nativeId = ID): Promise<TaskState> {
  return (await runLookup(ark, nativeId, () => response, { credentials: { apiKey: KEY } })).state;
}

async function errorOf(response: UpstreamResponse, nativeId = ID) {
  return lookupError(ark, nativeId, () => response, { credentials: { apiKey: KEY } });
}

const RUNNING: TaskState = {
  provider_task_id: ID,
  status: 'in_progress',
  provider_status: 'running',
  progress: null,
  url: null,
  outputs: [],
  error: null,
  model: 'seedance-1-5-pro-251215',
  created_at: '2025-03-31T09:50:19Z',
  completed_at: null,
  expires_at: null,
};

function routerOf(): Router {
  const config = loadConfig({});
  return new Router(config.routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
}

describe('ark definition', () => {
  it('reads ARK_API_KEY (setting apiKey), defaults to BytePlus ModelArk and polls every 5 s', () => {
    assert.equal(ark.name, 'ark');
    assert.deepEqual(ark.credentials, [{ setting: 'apiKey', env: 'ARK_API_KEY', secret: true }]);
    assert.equal(ark.defaultBaseUrl, 'https://ark.ap-southeast.bytepluses.com');
    assert.equal(ark.cadenceMs, 5000);
    assert.deepEqual(ark.idRules, [{ pattern: '^cgt-\\d{14}-[a-z0-9]{5}$', order: 52 }]);
    assert.deepEqual(ark.statuses, {
      queued: ['queued', 'pending'],
      in_progress: ['running', 'processing'],
      succeeded: ['succeeded'],
      failed: ['failed', 'expired'],
      canceled: ['cancelled', 'canceled'],
    });
  });

  it('takes cgt- and safe characters as a native id; nothing else', () => {
    for (const id of [ID, 'cgt-20250331175019-68d9t0', 'cgt-abc', 'cgt-2025_03-X']) assert.ok(ark.nativeIds.pattern.test(id), id);
    for (const id of ['20250331175019-68d9t', 'cgt-', 'CGT-20250331175019-68d9t', 'cgt-../x', 'cgt-a/b', 'cgt-a.b', 'cgt-a%2Fb', `cgt-${'a'.repeat(201)}`, ` ${ID}`]) {
      assert.ok(!ark.nativeIds.pattern.test(id), id);
    }
    assert.ok(ark.nativeIds.pattern.test(ark.nativeIds.example));
    assert.equal(ark.nativeIds.example, ID);
  });

  it("routes Ark's id form to ark alone; a qualified looser cgt- id too; anything else qualified is a 400 naming the form", () => {
    const router = routerOf();
    assert.deepEqual(router.resolve(ID).candidates, [{ provider: 'ark', nativeId: ID }]);
    assert.deepEqual(router.resolve(`ark:${ID}`).candidates, [{ provider: 'ark', nativeId: ID }]);
    assert.deepEqual(router.resolve('ark:cgt-2025-abc').candidates, [{ provider: 'ark', nativeId: 'cgt-2025-abc' }]);
    assert.throws(
      () => router.resolve('ark:68d9t'),
      (error) => error instanceof GatewayError && error.code === 'invalid_task_id' && error.detail.includes('a ark task id is "cgt-" and then letters') && error.detail.includes(ID),
    );
    assert.throws(() => router.resolve('cgt-2025-abc'), (error) => error instanceof GatewayError && error.code === 'no_provider_for_task_id', 'a bare id of another form matches no rule');
  });

  it('asks GET {base}/api/v3/contents/generations/tasks/{id} once, with the key as a Bearer token and nothing else', async () => {
    const { requests } = await runLookup(ark, ID, () => answer(200, fixture('running')), { credentials: { apiKey: KEY } });
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request?.method ?? 'GET', 'GET');
    assert.equal(request?.url, `${BASE_URL}/api/v3/contents/generations/tasks/${ID}`);
    assert.equal(request?.template, '/api/v3/contents/generations/tasks/{id}');
    assert.deepEqual(request?.headers, { authorization: `Bearer ${KEY}` });
    assert.equal(request?.query, undefined);
    assert.equal(request?.json, undefined);
  });

  it("keeps a base URL's path, and does not repeat /api/v3 when the base URL ends with it (as Ark's SDKs take it)", async () => {
    const urlFor = async (baseUrl: string) => (await runLookup(ark, ID, () => answer(200, fixture('running')), { baseUrl })).requests[0];
    assert.equal((await urlFor('https://relay.example/ark'))?.url, `https://relay.example/ark/api/v3/contents/generations/tasks/${ID}`);
    const volcengine = await urlFor('https://ark.cn-beijing.volces.com/api/v3');
    assert.deepEqual([volcengine?.url, volcengine?.template], [`https://ark.cn-beijing.volces.com/api/v3/contents/generations/tasks/${ID}`, '/contents/generations/tasks/{id}']);
    assert.equal((await urlFor('https://ark.cn-beijing.volces.com'))?.url, `https://ark.cn-beijing.volces.com/api/v3/contents/generations/tasks/${ID}`);
  });

  it('refuses a malformed id given straight to the lookup, before any call', async () => {
    let calls = 0;
    await assert.rejects(
      runLookup(ark, '..', () => {
        calls++;
        return answer(200, fixture('running'));
      }),
      (error) => error instanceof GatewayError && error.code === 'invalid_task_id',
    );
    assert.equal(calls, 0);
  });
});

describe('ark status words', () => {
  it('running (the documented example): in_progress, no progress, times in Unix seconds, no completed_at', async () => {
    assert.deepEqual(await stateOf(answer(200, fixture('running'))), RUNNING);
  });

  it('every word of the table maps to its status, whatever its case', async () => {
    const cases: Array<[string, TaskState['status']]> = [
      ['queued', 'queued'],
      ['pending', 'queued'],
      ['processing', 'in_progress'],
      ['running', 'in_progress'],
      ['cancelled', 'canceled'],
    ];
    for (const [name, status] of cases) {
      const state = await stateOf(answer(200, fixture(name)));
      assert.deepEqual([state.status, state.provider_status, state.error, state.outputs], [status, name, null, []], name);
    }
    const upper = await stateOf(answer(200, { ...fixtureBody('running'), status: 'RUNNING' }));
    assert.deepEqual([upper.status, upper.provider_status], ['in_progress', 'RUNNING']);
    const american = await stateOf(answer(200, { ...fixtureBody('cancelled'), status: 'canceled' }));
    assert.deepEqual([american.status, american.error, american.completed_at], ['canceled', null, '2025-03-31T09:50:25Z']);
  });

  it('a word outside the table is in_progress, kept in provider_status', async () => {
    const state = await stateOf(answer(200, { ...fixtureBody('running'), status: 'deleting' }));
    assert.deepEqual([state.status, state.provider_status, state.completed_at], ['in_progress', 'deleting', null]);
  });

  it('created_at and updated_at are Unix seconds; completed_at is updated_at once the task is over', async () => {
    const queued = await stateOf(answer(200, fixture('queued')));
    assert.deepEqual([queued.created_at, queued.completed_at], ['2025-03-31T09:50:19Z', null]);
    const cancelled = await stateOf(answer(200, fixture('cancelled')));
    assert.equal(cancelled.completed_at, '2025-03-31T09:50:25Z');
    const done = await stateOf(answer(200, fixture('succeeded')));
    assert.deepEqual([done.created_at, done.completed_at], ['2025-03-31T09:50:19Z', '2025-03-31T09:51:41Z']);
    const textTimes = await stateOf(answer(200, { ...fixtureBody('succeeded'), created_at: '1743414619', updated_at: null }));
    assert.deepEqual([textTimes.created_at, textTimes.completed_at], ['2025-03-31T09:50:19Z', null]);
  });
});

describe('ark results', () => {
  const documentedUrl = (fixtureBody('succeeded').content as { video_url: string }).video_url;

  it('succeeded: content.video_url is the video, handed out exactly as Ark wrote it', async () => {
    const state = await stateOf(answer(200, fixture('succeeded')));
    assert.deepEqual(state, {
      ...RUNNING,
      status: 'succeeded',
      provider_status: 'succeeded',
      progress: 100,
      url: documentedUrl,
      outputs: [{ type: 'video', url: documentedUrl }],
      completed_at: '2025-03-31T09:51:41Z',
    });
    assert.ok(documentedUrl.includes('filename%2A%3DUTF-8%27%27%E8%A7%86%E9%A2%91.mp4'), 'the fixture carries a UTF-8 filename in its query');
    assert.equal(resolveResultUrl(documentedUrl, BASE_URL), documentedUrl, 'URL parsing leaves the documented link as it is');
  });

  it('with content.last_frame_url: the video first, then the last frame as an image', async () => {
    const body = fixtureBody('succeeded-last-frame');
    const { video_url: video, last_frame_url: lastFrame } = body.content as Record<string, string>;
    const state = await stateOf(answer(200, body));
    assert.deepEqual([state.status, state.url, state.outputs, state.model], [
      'succeeded',
      video,
      [
        { type: 'video', url: video },
        { type: 'image', url: lastFrame },
      ],
      'seedance-1-0-pro-250528',
    ]);
    const frameOnly = await stateOf(answer(200, { ...body, content: { last_frame_url: lastFrame } }));
    assert.deepEqual([frameOnly.url, frameOnly.outputs], [lastFrame, [{ type: 'image', url: lastFrame }]], 'no video: the first output is url');
  });

  it('keeps a signed link byte for byte where URL parsing would rewrite it', async () => {
    const links = [
      // RFC 5987 filename with raw apostrophes: a URL parser writes them as %27.
      `${TOS}/v/video.mp4?response-content-disposition=attachment;filename*=UTF-8''%E8%A7%86%E9%A2%91.mp4&X-Tos-Signature=ab`,
      // Upper-case host and the default port: a parser lowers the one and drops the other.
      'https://ARK-Content.example:443/v.mp4?X-Tos-Expires=86400',
      // No path at all: a parser adds "/".
      'https://files.example?name=%E8%A7%86%E9%A2%91.mp4',
      // Already-encoded bytes, "+" and an odd escape stay as they are either way.
      `${TOS}/v.mp4?a=b+c&d=%2B&e=%zz&f=%2f`,
    ];
    for (const link of links) {
      const state = await stateOf(answer(200, { ...fixtureBody('succeeded'), content: { video_url: link } }));
      assert.deepEqual(state.outputs, [{ type: 'video', url: link }], link);
    }
    assert.notEqual(new URL(links[0]!).href, links[0], 'the control: a URL parser would change the first link');
    assert.equal(resultUrl(`  ${links[1]}\n`, BASE_URL), links[1], 'surrounding whitespace is no part of the URL');
  });

  it('a URL that is not plainly written is made a proper one: relative resolved, userinfo dropped, raw UTF-8 and spaces encoded', async () => {
    const cases: Array<[string, string]> = [
      ['/files/video.mp4?x=1', `${BASE_URL}/files/video.mp4?x=1`],
      ['https://user:secret@files.example/v.mp4', 'https://files.example/v.mp4'],
      ['https://files.example/v.mp4?filename=视频.mp4', 'https://files.example/v.mp4?filename=%E8%A7%86%E9%A2%91.mp4'],
      ['https://files.example/my video.mp4', 'https://files.example/my%20video.mp4'],
      ['https:files.example/v.mp4', 'https://files.example/v.mp4'],
    ];
    for (const [given, expected] of cases) {
      const state = await stateOf(answer(200, { ...fixtureBody('succeeded'), content: { video_url: given } }));
      assert.deepEqual(state.outputs, [{ type: 'video', url: expected }], given);
    }
  });

  it('a succeeded task without a usable file is a broken answer, not a success', async () => {
    for (const content of [undefined, null, {}, { video_url: '' }, { video_url: 'ftp://x/y.mp4' }, { video_url: 7 }, 'https://x/y.mp4', []]) {
      const error = await errorOf(answer(200, { ...fixtureBody('succeeded'), content }));
      assert.deepEqual([error.code, error.detail], ['upstream_invalid_response', 'ark reported a succeeded task without a usable result URL'], JSON.stringify(content));
    }
  });

  it('files on a task that is not succeeded are no outputs', async () => {
    const state = await stateOf(answer(200, { ...fixtureBody('running'), content: { video_url: `${TOS}/v.mp4` } }));
    assert.deepEqual([state.url, state.outputs], [null, []]);
  });
});

describe('ark failures', () => {
  it('failed (the documented example): its error code and message', async () => {
    const state = await stateOf(answer(200, fixture('failed')));
    assert.deepEqual(state, {
      ...RUNNING,
      status: 'failed',
      provider_status: 'failed',
      error: { code: 'OutputVideoSensitiveContentDetected', message: 'The generated video may contain sensitive content.' },
      model: null,
      completed_at: '2025-03-31T09:51:30Z',
    });
  });

  it('expired without an error: failed, code "expired" with a sentence saying it timed out before it ran', async () => {
    const state = await stateOf(answer(200, fixture('expired')));
    assert.deepEqual([state.status, state.provider_status, state.error, state.url], ['failed', 'expired', { code: EXPIRED_CODE, message: EXPIRED_MESSAGE }, null]);
    assert.equal(EXPIRED_MESSAGE, 'The task timed out before it ran: Ark expired it once its execution timeout passed.');
    assert.equal(state.completed_at, '2025-03-31T10:50:19Z');
    const nullError = await stateOf(answer(200, { ...fixtureBody('expired'), error: null, status: 'Expired' }));
    assert.deepEqual(nullError.error, { code: 'expired', message: EXPIRED_MESSAGE });
    const emptyError = await stateOf(answer(200, { ...fixtureBody('expired'), error: {} }));
    assert.deepEqual(emptyError.error, { code: 'expired', message: EXPIRED_MESSAGE });
  });

  it("expired with an error of its own: Ark's error", async () => {
    const error = { code: 'TaskExpired', message: 'The task was not executed within execution_expires_after.' };
    const state = await stateOf(answer(200, { ...fixtureBody('expired'), error }));
    assert.deepEqual([state.status, state.error], ['failed', error]);
  });

  it("failed without an error gets the gateway's generic one; a bare string error is the message", async () => {
    const bare = await stateOf(answer(200, { ...fixtureBody('failed'), error: null }));
    assert.deepEqual(bare.error, FAILURE_WITHOUT_DETAILS);
    const codeOnly = await stateOf(answer(200, { ...fixtureBody('failed'), error: { code: 'InternalServiceError' } }));
    assert.deepEqual(codeOnly.error, { code: 'InternalServiceError', message: FAILURE_WITHOUT_DETAILS.message });
    const text = await stateOf(answer(200, { ...fixtureBody('failed'), error: 'generation failed' }));
    assert.deepEqual(text.error, { code: 'task_failed', message: 'generation failed' });
  });

  it('an error on a task that did not fail is no error', async () => {
    const state = await stateOf(answer(200, { ...fixtureBody('running'), error: { code: 'X', message: 'y' } }));
    assert.equal(state.error, null);
  });
});

describe('ark errors', () => {
  it('404 ResourceNotFound is task_not_found (so is a task older than the 7 days Ark keeps)', async () => {
    const error = await errorOf(answer(404, fixture('error-404')));
    assert.deepEqual([error.code, error.detail], ['task_not_found', 'ark has no task with this id']);
    assert.equal((await errorOf(answer(404, 'Not Found'))).code, 'task_not_found');
  });

  it('a 400 whose error code says not found is task_not_found; another 400 is upstream_error', async () => {
    assert.equal((await errorOf(answer(400, fixture('error-400-not-found')))).code, 'task_not_found');
    assert.equal((await errorOf(answer(400, { error: { code: 'ResourceNotFound', message: 'x' } }))).code, 'task_not_found');
    const other = await errorOf(answer(400, fixture('error-400-invalid-parameter')));
    assert.deepEqual([other.code, other.detail], ['upstream_error', 'ark answered HTTP 400']);
    assert.equal((await errorOf(answer(400, 'Bad Request'))).code, 'upstream_error');
    assert.equal((await errorOf(answer(400, { error: { code: 'InvalidParameter', message: 'the task is not found' } }))).code, 'upstream_error', 'only the code decides');
  });

  it('401 AuthenticationError and 403 are upstream_auth_failed', async () => {
    const unauthorized = await errorOf(answer(401, fixture('error-401')));
    assert.deepEqual([unauthorized.code, unauthorized.detail], ['upstream_auth_failed', "ark rejected the gateway's credentials (HTTP 401)"]);
    assert.equal((await errorOf(answer(403, fixture('error-403')))).code, 'upstream_auth_failed');
  });

  it('429 is upstream_rate_limited, with its Retry-After or 5 s', async () => {
    const withHeader = await errorOf(answer(429, fixture('error-429'), { 'retry-after': '12' }));
    assert.deepEqual([withHeader.code, withHeader.retryAfter], ['upstream_rate_limited', 12]);
    const without = await errorOf(answer(429, fixture('error-429')));
    assert.deepEqual([without.code, without.retryAfter], ['upstream_rate_limited', 5]);
  });

  it('5xx is upstream_error, and no detail carries the body', async () => {
    const error = await errorOf(answer(500, fixture('error-500')));
    assert.deepEqual([error.code, error.detail], ['upstream_error', 'ark answered HTTP 500']);
  });

  it("Ark's error envelope inside an HTTP 200 is never a task failure", async () => {
    const cases: Array<[unknown, string]> = [
      [fixtureBody('error-429'), 'upstream_rate_limited'],
      [{ error: { code: 'ServerOverloaded', message: 'busy', type: 'TooManyRequests' } }, 'upstream_rate_limited'],
      [fixtureBody('error-401'), 'upstream_auth_failed'],
      [fixtureBody('error-403'), 'upstream_auth_failed'],
      [{ error: { code: 'AccessDenied', message: 'no' } }, 'upstream_auth_failed'],
      [fixtureBody('error-404'), 'task_not_found'],
      [fixtureBody('error-500'), 'upstream_error'],
      [{ error: 'something broke' }, 'upstream_error'],
      [{ id: ID, error: { code: 'InvalidParameter', message: 'bad' } }, 'upstream_error'],
    ];
    for (const [body, code] of cases) {
      const error = await errorOf(answer(200, body as object, { 'retry-after': '9' }));
      assert.equal(error.code, code, JSON.stringify(body));
      assert.ok(!error.detail.includes('Request id') && !error.detail.includes('busy'), error.detail);
      if (code === 'upstream_rate_limited') assert.equal(error.retryAfter, 9);
    }
  });

  it('a 200 that is no task is upstream_invalid_response', async () => {
    for (const body of ['', '<html>502</html>', '[]', 'null', '{}', '{"status": ""}', '{"status": "  "}', '{"status": 7}', '{"id": "cgt-1"}', '{"status": "running", "model": 5}']) {
      const error = await errorOf(answer(200, body));
      assert.equal(error.code, 'upstream_invalid_response', body);
    }
  });
});
