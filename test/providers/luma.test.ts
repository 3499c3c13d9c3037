/**
 * The luma adapter against recorded shapes: one GET of the generation with a Bearer key;
 * every state word (Dream Machine's and the Agents API's); the video, the image and the
 * Agents output list, never the preview video; every failure shape; not-found, auth,
 * throttling and error bodies answered with HTTP 200.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { luma } from '../../src/providers/luma/index.js';
import { detailText, generationRequest } from '../../src/providers/luma/map.js';
import { GenerationSchema } from '../../src/providers/luma/schema.js';
import { FAILURE_WITHOUT_DETAILS } from '../../src/providers/normalize.js';
import { Router } from '../../src/routing.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup } from '../helpers/adapter.js';

const ID = '32ec5549-7b7a-4111-a43b-445b3a89c8ef';
const FAILED_ID = '9b1f4c2e-7d3a-4e6b-8c5f-2a0d1e3b4c5d';
const IMAGE_ID = '5f0e2d1c-3b4a-4c5d-8e6f-7a8b9c0d1e2f';
const AGENTS_ID = '182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e';
const BASE_URL = 'https://api.lumalabs.ai';
const VIDEO_URL = `https://storage.cdn-luma.com/dream-machine/${ID}/video.mp4`;
const UUID_RULE = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
const FIXTURES = new URL('../fixtures/luma/', import.meta.url);

function fixture(name: string): string {
  return readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8');
}

/** The lookup of `id` when its one call is answered with `response`. */
const lookup = (response: UpstreamResponse, id = ID) => runLookup(luma, id, () => response);
const stateOf = async (name: string, id = ID) => (await lookup(answer(200, fixture(name)), id)).state;

describe('luma definition', () => {
  it('reads LUMAAI_API_KEY, asks api.lumalabs.ai every 3 s, and claims UUIDs at order 61', () => {
    assert.equal(luma.name, 'luma');
    assert.deepEqual(luma.credentials, [{ setting: 'apiKey', env: 'LUMAAI_API_KEY', secret: true }]);
    assert.equal(luma.defaultBaseUrl, 'https://api.lumalabs.ai');
    assert.equal(luma.cadenceMs, 3000);
    assert.deepEqual(luma.idRules, [{ pattern: UUID_RULE, order: 61 }]);
    assert.equal(luma.expand, undefined);
  });

  it("has its own status words: Dream Machine's dreaming and the Agents API's processing are in_progress; nothing is canceled", () => {
    assert.deepEqual(luma.statuses, {
      queued: ['queued'],
      in_progress: ['dreaming', 'processing'],
      succeeded: ['completed'],
      failed: ['failed'],
    });
  });

  it('takes a UUID in any case as a generation id, nothing else', () => {
    const { pattern, example } = luma.nativeIds;
    assert.equal(example, ID);
    for (const id of [ID, ID.toUpperCase(), FAILED_ID, '00000000-0000-0000-0000-000000000000']) assert.ok(pattern.test(id), id);
    for (const id of [ID.slice(1), `${ID}0`, ID.replaceAll('-', ''), `{${ID}}`, ID.replace('3', 'g'), `${ID.slice(0, 35)}/`, '', 'task_abc001']) {
      assert.ok(!pattern.test(id), id);
    }
  });

  it('routes a bare UUID to the UUID providers, luma among them; luma:<other form> is a 400 naming the form', () => {
    const config = loadConfig({});
    const uuidRule = config.routes.find((rule) => rule.pattern === UUID_RULE);
    assert.ok(uuidRule !== undefined);
    // Runway (60) before luma (61) before DashScope (62), whichever of them the registry holds.
    assert.deepEqual(uuidRule.providers, ['runway', 'luma', 'dashscope'].filter((name) => PROVIDERS.some((provider) => provider.name === name)));
    const router = new Router(config.routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
    assert.ok(router.resolve(ID).candidates.some((candidate) => candidate.provider === 'luma' && candidate.nativeId === ID));
    assert.deepEqual(router.resolve(`luma:${ID}`).candidates, [{ provider: 'luma', nativeId: ID }]);
    assert.throws(
      () => router.resolve('luma:task_abc001'),
      (error) =>
        error instanceof GatewayError &&
        error.code === 'invalid_task_id' &&
        error.detail === `The id does not have the form its provider uses: a luma task id is a generation id: a UUID (8-4-4-4-12 hexadecimal digits), e.g. ${ID}.`,
    );
  });

  it('refuses an id of another form before any request, if asked directly', async () => {
    let requests = 0;
    const error = await lookupError(luma, '../credits', () => {
      requests++;
      return answer(200, fixture('queued'));
    });
    assert.deepEqual([error.code, requests], ['invalid_task_id', 0]);
  });
});

describe('luma requests', () => {
  it('one GET of /dream-machine/v1/generations/{id} with Authorization: Bearer <key>, and nothing else', async () => {
    const { requests } = await runLookup(luma, ID, () => answer(200, fixture('dreaming')), { credentials: { apiKey: 'luma-test-key' } });
    assert.deepEqual(
      requests.map((request) => [request.method ?? 'GET', request.url, request.template, request.headers, request.json, request.query]),
      [['GET', `${BASE_URL}/dream-machine/v1/generations/${ID}`, '/dream-machine/v1/generations/{id}', { authorization: 'Bearer luma-test-key' }, undefined, undefined]],
    );
  });

  it("a base URL ending in /dream-machine/v1 (the SDK's) is not given the root again; any other path is kept", async () => {
    for (const [baseUrl, expected] of [
      ['https://api.lumalabs.ai/dream-machine/v1', `https://api.lumalabs.ai/dream-machine/v1/generations/${ID}`],
      ['https://api.lumalabs.ai/dream-machine/v1/', `https://api.lumalabs.ai/dream-machine/v1/generations/${ID}`],
      ['https://relay.example/luma', `https://relay.example/luma/dream-machine/v1/generations/${ID}`],
    ] as const) {
      const { requests } = await runLookup(luma, ID, () => answer(200, fixture('dreaming')), { baseUrl: baseUrl.replace(/\/$/, '') });
      assert.equal(requests[0]?.url, expected, baseUrl);
    }
    assert.deepEqual(generationRequest('https://api.lumalabs.ai/dream-machine/v1/', ID), { path: `/generations/${ID}`, template: '/generations/{id}' });
    assert.deepEqual(generationRequest('https://api.lumalabs.ai', ID), { path: `/dream-machine/v1/generations/${ID}`, template: '/dream-machine/v1/generations/{id}' });
  });

  it('sends an upper-case UUID as it was given', async () => {
    const { requests, state } = await runLookup(luma, ID.toUpperCase(), () => answer(200, { state: 'queued' }));
    assert.equal(requests[0]?.url, `${BASE_URL}/dream-machine/v1/generations/${ID.toUpperCase()}`);
    assert.equal(state.provider_task_id, ID.toUpperCase(), 'no id in the body: the one asked for');
  });
});

describe('luma status words', () => {
  it('queued → queued, dreaming → in_progress, with no progress figure; times in whole seconds', async () => {
    assert.deepEqual(await stateOf('queued'), {
      provider_task_id: ID,
      status: 'queued',
      provider_status: 'queued',
      progress: null,
      url: null,
      outputs: [],
      error: null,
      model: 'ray-2',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: null,
      expires_at: null,
    });
    const dreaming = await stateOf('dreaming');
    assert.deepEqual([dreaming.status, dreaming.provider_status, dreaming.progress, dreaming.outputs], ['in_progress', 'dreaming', null, []]);
  });

  it('a preview video while dreaming is no result and no progress', async () => {
    const state = await stateOf('dreaming-progress-video');
    assert.deepEqual([state.status, state.progress, state.outputs, state.url], ['in_progress', null, [], null]);
  });

  it("the Agents API's processing → in_progress", async () => {
    const state = await stateOf('agents-processing', AGENTS_ID);
    assert.deepEqual(
      [state.status, state.provider_status, state.model, state.created_at, state.provider_task_id],
      ['in_progress', 'processing', 'uni-1', '2026-05-01T12:00:00Z', AGENTS_ID],
    );
  });

  it('words in any case; a word outside the table is in_progress and kept', async () => {
    assert.equal((await lookup(answer(200, { state: 'DREAMING' }))).state.status, 'in_progress');
    assert.equal((await lookup(answer(200, { state: 'Queued' }))).state.status, 'queued');
    const odd = await lookup(answer(200, { id: ID, state: 'upscaling' }));
    assert.deepEqual([odd.state.status, odd.state.provider_status], ['in_progress', 'upscaling']);
    const cancelled = await lookup(answer(200, { id: ID, state: 'cancelled' }));
    assert.deepEqual([cancelled.state.status, cancelled.state.provider_status], ['in_progress', 'cancelled'], 'Luma has no cancel word');
  });
});

describe('luma results', () => {
  it("maps the documented example: completed with its video on Luma's CDN; the preview video is no output", async () => {
    assert.deepEqual(await stateOf('completed-video'), {
      provider_task_id: ID,
      status: 'succeeded',
      provider_status: 'completed',
      progress: 100,
      url: VIDEO_URL,
      outputs: [{ type: 'video', url: VIDEO_URL }],
      error: null,
      model: 'ray-2',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('an image generation: its assets.image as an image output', async () => {
    const imageUrl = `https://storage.cdn-luma.com/dream-machine/${IMAGE_ID}/image.jpg`;
    const state = await stateOf('completed-image', IMAGE_ID);
    assert.deepEqual(
      [state.status, state.outputs, state.url, state.model, state.created_at],
      ['succeeded', [{ type: 'image', url: imageUrl }], imageUrl, 'photon-1', '2026-05-01T11:30:15Z'],
    );
  });

  it('a video with an image: both, the video first and as the url, whatever the order Luma wrote them in', async () => {
    const { state } = await lookup(answer(200, { state: 'completed', assets: { image: 'https://cdn.example/a.jpg', video: 'https://cdn.example/a.mp4' } }));
    assert.deepEqual(state.outputs, [
      { type: 'video', url: 'https://cdn.example/a.mp4' },
      { type: 'image', url: 'https://cdn.example/a.jpg' },
    ]);
    assert.equal(state.url, 'https://cdn.example/a.mp4');
  });

  it("the Agents API's output list: each file typed by its type, its presigned query kept; a URL named twice counts once", async () => {
    const presigned = `https://agents-output.example-luma.com/${AGENTS_ID}/0.png?X-Amz-Expires=3600&X-Amz-Signature=4f2a9c`;
    const state = await stateOf('agents-completed', AGENTS_ID);
    assert.deepEqual([state.status, state.outputs, state.url], ['succeeded', [{ type: 'image', url: presigned }], presigned]);
    const mixed = await lookup(
      answer(200, {
        state: 'completed',
        assets: { video: 'https://cdn.example/v.mp4' },
        output: [{ type: 'video', url: 'https://cdn.example/v.mp4' }, { type: 'audio', url: 'https://cdn.example/a.mp3' }, { url: 'https://cdn.example/x.bin' }, { type: 'image' }, null, 'junk'],
      }),
    );
    assert.deepEqual(mixed.state.outputs, [
      { type: 'video', url: 'https://cdn.example/v.mp4' },
      { type: 'audio', url: 'https://cdn.example/a.mp3' },
      { type: 'file', url: 'https://cdn.example/x.bin' },
    ]);
  });

  it('a relative file is resolved against the base URL; data: and prose are no files', async () => {
    const { state } = await lookup(answer(200, { state: 'completed', assets: { video: '/files/v.mp4', image: 'data:image/png;base64,AAAA' }, output: [{ type: 'image', url: 'see the dashboard' }] }));
    assert.deepEqual(state.outputs, [{ type: 'video', url: `${BASE_URL}/files/v.mp4` }]);
  });

  it('assets or an output on a generation that has not completed are no results yet', async () => {
    const { state } = await lookup(answer(200, { state: 'dreaming', assets: { video: VIDEO_URL }, output: [{ type: 'video', url: VIDEO_URL }] }));
    assert.deepEqual([state.status, state.outputs, state.url], ['in_progress', [], null]);
  });

  it('a completed generation without a file (none, only a preview, of another shape) is upstream_invalid_response', async () => {
    for (const body of [
      { state: 'completed', assets: null },
      { state: 'completed', assets: { progress_video: VIDEO_URL } },
      { state: 'completed', assets: { video: '' } },
      { state: 'completed', assets: ['https://cdn.example/v.mp4'] },
      { state: 'completed', output: [] },
      { state: 'completed', output: 'https://cdn.example/v.mp4' },
    ]) {
      const error = await lookupError(luma, ID, () => answer(200, body));
      assert.deepEqual([error.code, error.detail], ['upstream_invalid_response', 'luma reported a succeeded task without a usable result URL'], JSON.stringify(body));
    }
  });
});

describe('luma failures', () => {
  it("the documented failure: failure_reason as the message, task_failed as the code", async () => {
    assert.deepEqual(await stateOf('failed', FAILED_ID), {
      provider_task_id: FAILED_ID,
      status: 'failed',
      provider_status: 'failed',
      progress: null,
      url: null,
      outputs: [],
      error: { code: 'task_failed', message: 'Advanced prompt moderation failed' },
      model: 'ray-2',
      created_at: '2026-05-01T10:00:00Z',
      completed_at: null,
      expires_at: null,
    });
  });

  it('each documented reason is the message as written', async () => {
    for (const reason of ['Contains blacklisted words', 'Frame moderation failed', 'Advanced prompt moderation failed', 'Prompt processing failed']) {
      const { state } = await lookup(answer(200, { id: FAILED_ID, state: 'failed', failure_reason: reason }), FAILED_ID);
      assert.deepEqual(state.error, { code: 'task_failed', message: reason });
    }
  });

  it("the Agents API's failure_code is the code", async () => {
    const state = await stateOf('agents-failed', AGENTS_ID);
    assert.deepEqual([state.status, state.error], ['failed', { code: 'content_moderated', message: 'The prompt or an input image violated the content guidelines.' }]);
    const codeOnly = await lookup(answer(200, { state: 'failed', failure_code: 'budget_exhausted' }));
    assert.deepEqual(codeOnly.state.error, { code: 'budget_exhausted', message: FAILURE_WITHOUT_DETAILS.message });
    const numeric = await lookup(answer(200, { state: 'failed', failure_code: 500, failure_reason: 'x' }));
    assert.deepEqual(numeric.state.error, { code: '500', message: 'x' });
  });

  it('a failure without a reason (none, blank, of another type) gets the generic error', async () => {
    assert.deepEqual((await stateOf('failed-no-reason', FAILED_ID)).error, FAILURE_WITHOUT_DETAILS);
    for (const failure_reason of ['  ', 42, { message: 'x' }, ['x']]) {
      assert.deepEqual((await lookup(answer(200, { state: 'failed', failure_reason }))).state.error, FAILURE_WITHOUT_DETAILS, JSON.stringify(failure_reason));
    }
  });

  it('a reason on a generation that did not fail is no error', async () => {
    const { state } = await lookup(answer(200, { state: 'completed', failure_reason: 'stale', assets: { video: VIDEO_URL } }));
    assert.deepEqual([state.status, state.error], ['succeeded', null]);
  });
});

describe('luma errors', () => {
  it('404, and a 400 whose detail says not found → task_not_found', async () => {
    for (const [statusCode, body] of [
      [404, fixture('error-404')],
      [404, '<html>Not Found</html>'],
      [400, fixture('error-400-not-found')],
      [400, { detail: [{ loc: ['path', 'generation_id'], msg: 'Generation does not exist', type: 'value_error' }] }],
    ] as const) {
      const error = await lookupError(luma, ID, () => answer(statusCode, body));
      assert.deepEqual([error.code, error.detail], ['task_not_found', 'luma has no task with this id'], JSON.stringify(body));
    }
  });

  it('401 and 403 → upstream_auth_failed, with our own sentence', async () => {
    for (const [statusCode, body] of [
      [401, fixture('error-401')],
      [403, { detail: 'Not authenticated' }],
    ] as const) {
      const error = await lookupError(luma, ID, () => answer(statusCode, body));
      assert.deepEqual([error.code, error.detail], ['upstream_auth_failed', `luma rejected the gateway's credentials (HTTP ${statusCode})`]);
    }
  });

  it('429 → upstream_rate_limited with its Retry-After, else 5 s', async () => {
    const withHeader = await lookupError(luma, ID, () => answer(429, fixture('error-429'), { 'retry-after': '9' }));
    assert.deepEqual([withHeader.code, withHeader.retryAfter, withHeader.detail], ['upstream_rate_limited', 9, 'luma is rate limiting the gateway (HTTP 429)']);
    assert.equal((await lookupError(luma, ID, () => answer(429, fixture('error-429')))).retryAfter, 5);
  });

  it('5xx and other 4xx (a 400 that is not about a missing generation included) → upstream_error', async () => {
    for (const [statusCode, body] of [
      [400, fixture('error-400')],
      [400, 'Bad Request'],
      [422, { detail: [{ msg: 'value is not a valid uuid' }] }],
      [500, fixture('error-500')],
      [502, '<html>Bad Gateway</html>'],
      [503, ''],
    ] as const) {
      const error = await lookupError(luma, ID, () => answer(statusCode, body));
      assert.deepEqual([error.code, error.detail], ['upstream_error', `luma answered HTTP ${statusCode}`], `${statusCode} ${JSON.stringify(body)}`);
    }
  });

  it('an error body answered with HTTP 200 is never a failure: its detail decides', async () => {
    const cases: Array<[unknown, string]> = [
      ['Rate limit exceeded', 'upstream_rate_limited'],
      ['Too many concurrent generations', 'upstream_rate_limited'],
      ['Invalid API key', 'upstream_auth_failed'],
      ['Generation not found', 'task_not_found'],
      ['Something went wrong', 'upstream_error'],
      [[{ msg: 'Not authenticated' }], 'upstream_auth_failed'],
    ];
    for (const [detail, code] of cases) {
      const error = await lookupError(luma, ID, () => answer(200, { detail }, { 'retry-after': '3' }));
      assert.equal(error.code, code, JSON.stringify(detail));
      assert.ok(!error.detail.includes(String(detail)), 'the upstream text stays out of the detail');
      if (code === 'upstream_rate_limited') assert.equal(error.retryAfter, 3);
    }
  });

  it('a 200 that is no generation (not JSON, no state, a state of another type) → upstream_invalid_response', async () => {
    for (const body of ['<html>Just a moment...</html>', '', '[]', { id: ID, assets: { video: VIDEO_URL } }, { state: '' }, { state: 3 }, { detail: null }]) {
      assert.equal((await lookupError(luma, ID, () => answer(200, body))).code, 'upstream_invalid_response', JSON.stringify(body));
    }
  });

  it('reads a detail as a sentence or as the messages of a validation error list', () => {
    assert.equal(detailText('Generation not found'), 'Generation not found');
    assert.equal(detailText([{ msg: 'a' }, { loc: [] }, 'x', { msg: 'b' }]), 'a b');
    assert.equal(detailText({ msg: 'a' }), '');
    assert.equal(detailText(undefined), '');
  });
});

describe('luma schema', () => {
  it('accepts every recorded body', () => {
    const names = readdirSync(FIXTURES).filter((name) => name.endsWith('.json'));
    assert.equal(names.length, 16);
    for (const name of names) {
      const body = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as unknown;
      assert.ok(GenerationSchema.safeParse(body).success, name);
    }
  });
});
