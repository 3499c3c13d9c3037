/**
 * The vertex adapter against recorded shapes: its service-account file, the JWT bearer
 * grant (the assertion decoded and its signature checked with the account's public key),
 * the token cache, the status call (POST, body, headers, regional host), every operation
 * shape and every error.
 */
import assert from 'node:assert/strict';
import { createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { isGatewayError } from '../../src/errors.js';
import { finalizeTask, StatusTable } from '../../src/providers/normalize.js';
import type { ProviderConnection, TaskState, UpstreamCall } from '../../src/providers/types.js';
import { vertex } from '../../src/providers/vertex/index.js';
import { isVertexHost, regionalHost } from '../../src/providers/vertex/map.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { answer, lookupError, runLookup, type MadeRequest } from '../helpers/adapter.js';

const NAME = 'projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/0c33f4b2-8a1d-4c6e-9f02-5b7d3e1a9c40';
const STATUS_PATH = '/v1/projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001:fetchPredictOperation';
const PROXY = 'https://vertex-proxy.example';
const TOKEN_URI = 'https://oauth2.example/token';
const CLIENT_EMAIL = 'veo@p1.iam.gserviceaccount.com';
const KEY_ID = '3c1f0a9e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a39';
const TOKEN = 'ya29.c.b0AXv0zTPfixture-token-0001';
const NOW = Date.parse('2026-04-10T14:32:05Z');

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/vertex/${name}.json`, import.meta.url), 'utf8');
const tokenAnswer = (token = TOKEN, expiresIn = 3599) => answer(200, { access_token: token, expires_in: expiresIn, token_type: 'Bearer' });

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_KEY_PEM = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
let directory = '';
let keyFile = '';

function writeKeyFile(name: string, content: unknown): string {
  const file = join(directory, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const SERVICE_ACCOUNT = {
  type: 'service_account',
  project_id: 'p1',
  private_key_id: KEY_ID,
  private_key: PRIVATE_KEY_PEM,
  client_email: CLIENT_EMAIL,
  client_id: '104937150287346529812',
  token_uri: TOKEN_URI,
};

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'taskgate-vertex-test-'));
  keyFile = writeKeyFile('service-account.json', SERVICE_ACCOUNT);
});
after(() => rmSync(directory, { recursive: true, force: true }));

/** A status call answers with `body`; the token call with a token. */
function scripted(body: UpstreamResponse | string) {
  return (request: MadeRequest): UpstreamResponse => {
    if (request.url === TOKEN_URI) return answer(200, fixture('token'));
    return typeof body === 'string' ? answer(200, body) : body;
  };
}

const lookup = (respond: Parameters<typeof runLookup>[2], options: { baseUrl?: string; urls?: Record<string, string>; file?: string; id?: string } = {}) =>
  runLookup(vertex, options.id ?? NAME, respond, {
    credentials: { serviceAccountFile: options.file ?? keyFile },
    baseUrl: options.baseUrl ?? PROXY,
    ...(options.urls === undefined ? {} : { urls: options.urls }),
  });

const stateOf = async (body: UpstreamResponse | string, options?: Parameters<typeof lookup>[1]): Promise<TaskState> => (await lookup(scripted(body), options)).state;

function decodeJwt(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: string; signature: string } {
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), claims: decode(claims), signed: `${header}.${claims}`, signature };
}

function verifies(jwt: string, publicKey: KeyObject): boolean {
  const { signed, signature } = decodeJwt(jwt);
  return createVerify('RSA-SHA256').update(signed).verify(publicKey, Buffer.from(signature, 'base64url'));
}

/** One connection kept across lookups (runLookup connects anew each time): the token cache's unit. */
function connected(respond: (request: MadeRequest, index: number) => UpstreamResponse | Promise<UpstreamResponse>, baseUrl = PROXY) {
  const requests: MadeRequest[] = [];
  const learned: string[] = [];
  const call: UpstreamCall = {
    async request(request) {
      const url = new URL(/^https?:\/\//.test(request.path) ? request.path : `${baseUrl}${request.path}`);
      const headers = { ...request.headers, ...(request.auth === false ? {} : await connection.authorize(url, call)) };
      const made: MadeRequest = { ...request, url: url.href, headers };
      requests.push(made);
      return respond(made, requests.length - 1);
    },
    remainingMs: 10_000,
  };
  const connection: ProviderConnection = vertex.connect({
    settings: { name: 'vertex', credentials: { serviceAccountFile: keyFile }, baseUrl, urls: { storageBaseUrl: 'https://storage.googleapis.com' }, pollIntervalMs: 10_000, connections: 1 },
    addSecret: (secret) => learned.push(secret),
    newCall: () => call,
  });
  const table = new StatusTable(vertex.statuses);
  return {
    connection,
    call,
    requests,
    learned,
    tokenRequests: () => requests.filter((request) => request.url === TOKEN_URI),
    statusRequests: () => requests.filter((request) => request.url !== TOKEN_URI),
    lookup: async (id = NAME) => finalizeTask('vertex', table, await connection.lookup(id, call)),
  };
}

function mockNow(t: TestContext, now = NOW): void {
  t.mock.timers.enable({ apis: ['Date'], now });
}

describe('vertex definition', () => {
  it('takes the service-account file named by GOOGLE_APPLICATION_CREDENTIALS (a path, not a secret), and a storage origin', () => {
    assert.equal(vertex.name, 'vertex');
    assert.deepEqual(vertex.credentials, [{ setting: 'serviceAccountFile', env: 'GOOGLE_APPLICATION_CREDENTIALS', secret: false }]);
    assert.equal(vertex.defaultBaseUrl, 'https://aiplatform.googleapis.com');
    assert.deepEqual(vertex.urls, [{ setting: 'storageBaseUrl', env: 'VERTEX_STORAGE_BASE_URL', default: 'https://storage.googleapis.com' }]);
    assert.equal(vertex.cadenceMs, 10_000);
  });

  it('claims operation names (order 51), and knows its ids by their form', () => {
    assert.deepEqual(vertex.idRules, [{ pattern: '^projects/[^/]+/locations/[^/]+/publishers/google/models/[^/]+/operations/[^/]+$', order: 51 }]);
    const rule = new RegExp(vertex.idRules[0]!.pattern);
    for (const id of [NAME, 'projects/123456789012/locations/global/publishers/google/models/veo-3.1-generate-preview/operations/8417261923'])
      assert.ok(rule.test(id) && vertex.nativeIds.pattern.test(id), id);
    for (const id of [
      'models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1',
      'projects/p1/locations/US-CENTRAL1/publishers/google/models/veo/operations/1',
      'projects/p1/locations/evil.example/publishers/google/models/veo/operations/1',
      'projects/../locations/us-central1/publishers/google/models/veo/operations/1',
      'projects/p1/locations/us-central1/publishers/google/models/../operations/1',
      'projects/p1/locations/-us/publishers/google/models/veo/operations/1',
      'projects/p1/locations/us-central1/publishers/acme/models/veo/operations/1',
      `${NAME}/extra`,
    ])
      assert.ok(!vertex.nativeIds.pattern.test(id), id);
    assert.ok(vertex.nativeIds.pattern.test(vertex.nativeIds.example));
    assert.ok(vertex.nativeIds.pattern.test('projects/example.com:veo-lab/locations/us-central1/publishers/google/models/veo-3.0-generate-001@001/operations/7'));
  });
});

describe('vertex requests', () => {
  it('gets a token with the JWT bearer grant, then POSTs fetchPredictOperation with the name, the token and the billed project', async () => {
    const { requests, learned } = await lookup(scripted(fixture('running')));
    assert.equal(requests.length, 2);
    const [token, status] = requests as [MadeRequest, MadeRequest];
    assert.deepEqual([token.method, token.url, token.auth, token.headers['authorization']], ['POST', TOKEN_URI, false, undefined]);
    assert.deepEqual(Object.keys(token.form ?? {}).sort(), ['assertion', 'grant_type']);
    assert.equal(token.form?.['grant_type'], 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    assert.equal(status.method, 'POST');
    assert.equal(status.url, `${PROXY}${STATUS_PATH}`);
    assert.equal(status.template, '/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:fetchPredictOperation');
    assert.deepEqual(status.json, { operationName: NAME });
    assert.equal(status.headers['authorization'], `Bearer ${TOKEN}`);
    assert.equal(status.headers['x-goog-user-project'], 'p1');
    assert.equal(status.maxBodyBytes, 64 * 1024 * 1024, 'an inline video answer is several MB');
    assert.deepEqual(learned, [PRIVATE_KEY_PEM, token.form?.['assertion'], TOKEN], 'the key, the assertion and the token are all redacted from then on');
  });

  it("signs the assertion RS256 with the account's key: kid, iss, scope, aud = token_uri, an hour from iat", async (t) => {
    mockNow(t);
    const { requests } = await lookup(scripted(fixture('running')));
    const assertion = requests[0]!.form!['assertion']!;
    const { header, claims } = decodeJwt(assertion);
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT', kid: KEY_ID });
    const iat = NOW / 1000;
    assert.deepEqual(claims, { iss: CLIENT_EMAIL, scope: 'https://www.googleapis.com/auth/cloud-platform', aud: TOKEN_URI, iat, exp: iat + 3600 });
    assert.ok(verifies(assertion, keys.publicKey), 'the signature verifies with the public key');
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.equal(verifies(assertion, other.publicKey), false, 'and with no other key');
  });

  it('uses quota_project_id for the billed project when the key names one, and Google\'s token URL when it names none', async () => {
    const { token_uri: _unused, ...withoutTokenUri } = SERVICE_ACCOUNT;
    const file = writeKeyFile('quota.json', { ...withoutTokenUri, quota_project_id: 'billing-project', private_key_id: undefined });
    const { requests } = await lookup((request) => (request.url === 'https://oauth2.googleapis.com/token' ? tokenAnswer() : answer(200, fixture('running'))), { file });
    assert.equal(requests[0]!.url, 'https://oauth2.googleapis.com/token');
    const { header, claims } = decodeJwt(requests[0]!.form!['assertion']!);
    assert.deepEqual([header['kid'], claims['aud']], [undefined, 'https://oauth2.googleapis.com/token']);
    assert.equal(requests[1]!.headers['x-goog-user-project'], 'billing-project');
  });

  it('asks each operation at its own regional host when the base URL is the default, adding the token itself', async () => {
    const cases = [
      [NAME, 'https://us-central1-aiplatform.googleapis.com'],
      [NAME.replace('us-central1', 'europe-west4'), 'https://europe-west4-aiplatform.googleapis.com'],
      [NAME.replace('us-central1', 'global'), 'https://aiplatform.googleapis.com'],
    ] as const;
    for (const [id, host] of cases) {
      const { requests } = await lookup(scripted(fixture('running')), { baseUrl: 'https://aiplatform.googleapis.com', id });
      const status = requests[1]!;
      const location = /locations\/([^/]+)\//.exec(id)![1]!;
      assert.equal(status.url, `${host}/v1/projects/p1/locations/${location}/publishers/google/models/veo-3.0-generate-001:fetchPredictOperation`);
      assert.equal(status.auth, false, 'not left to the gateway, which authorizes only the base URL\'s origin');
      assert.equal(status.headers['authorization'], `Bearer ${TOKEN}`);
      assert.equal(status.headers['x-goog-user-project'], 'p1');
    }
  });

  it("a derived host gets the token only when it is one of Vertex's own", () => {
    assert.equal(regionalHost('asia-northeast1'), 'https://asia-northeast1-aiplatform.googleapis.com');
    assert.equal(regionalHost('global'), 'https://aiplatform.googleapis.com');
    for (const url of ['https://us-central1-aiplatform.googleapis.com/v1/x', 'https://aiplatform.googleapis.com/v1/x', 'https://me-central2-aiplatform.googleapis.com/'])
      assert.ok(isVertexHost(new URL(url)), url);
    for (const url of [
      'http://us-central1-aiplatform.googleapis.com/v1/x',
      'https://us-central1-aiplatform.googleapis.com:8443/v1/x',
      'https://aiplatform.googleapis.com.evil.example/v1/x',
      'https://evilaiplatform.googleapis.com/v1/x',
      'https://x.us-central1-aiplatform.googleapis.com/v1/x',
      'https://storage.googleapis.com/b/o',
    ])
      assert.equal(isVertexHost(new URL(url)), false, url);
  });

  it('sends the token to the storage origin without the billed project, and with it to Vertex', async () => {
    const run = connected(scripted(fixture('running')));
    const storage = await run.connection.authorize(new URL('https://storage.googleapis.com/my-bucket/veo/sample_0.mp4'), run.call);
    assert.deepEqual(storage, { authorization: `Bearer ${TOKEN}` });
    const api = await run.connection.authorize(new URL(`${PROXY}/v1/anything`), run.call);
    assert.deepEqual(api, { authorization: `Bearer ${TOKEN}`, 'x-goog-user-project': 'p1' });
    assert.equal(run.tokenRequests().length, 1);
  });
});

describe('vertex token cache', () => {
  it('reuses a token until a minute before it expires, then gets a new one', async (t) => {
    mockNow(t);
    let minted = 0;
    const run = connected((request) => (request.url === TOKEN_URI ? tokenAnswer(`ya29.token-${++minted}`, 300) : answer(200, fixture('running'))));
    await run.lookup();
    await run.lookup();
    t.mock.timers.setTime(NOW + 240_000 - 1);
    await run.lookup();
    assert.equal(run.tokenRequests().length, 1, 'one token while it has more than a minute left');
    t.mock.timers.setTime(NOW + 240_000);
    await run.lookup();
    await run.lookup();
    assert.equal(run.tokenRequests().length, 2, 'refreshed a minute before it expires, then reused');
    assert.deepEqual(
      run.statusRequests().map((request) => request.headers['authorization']),
      ['Bearer ya29.token-1', 'Bearer ya29.token-1', 'Bearer ya29.token-1', 'Bearer ya29.token-2', 'Bearer ya29.token-2'],
    );
    const assertions = run.tokenRequests().map((request) => decodeJwt(request.form!['assertion']!).claims['iat']);
    assert.deepEqual(assertions, [NOW / 1000, NOW / 1000 + 240], 'each grant signs a new assertion');
  });

  it('shares one token request between concurrent lookups', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const run = connected(async (request) => {
      if (request.url !== TOKEN_URI) return answer(200, fixture('running'));
      await released;
      return tokenAnswer();
    });
    const lookups = Promise.all(Array.from({ length: 5 }, () => run.lookup()));
    // Let every lookup reach the token before it is answered.
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const states = await lookups;
    assert.equal(states.length, 5);
    assert.equal(run.tokenRequests().length, 1);
    assert.equal(run.statusRequests().length, 5);
    assert.ok(run.statusRequests().every((request) => request.headers['authorization'] === `Bearer ${TOKEN}`));
  });

  it('a token with a minute or less to live is used once and replaced at the next lookup', async () => {
    let minted = 0;
    const run = connected((request) => (request.url === TOKEN_URI ? tokenAnswer(`ya29.short-${++minted}`, 60) : answer(200, fixture('running'))));
    await run.lookup();
    await run.lookup();
    assert.equal(run.tokenRequests().length, 2);
  });

  it('forgets a token Vertex refused (401): the next lookup gets a new one', async () => {
    let minted = 0;
    let statusCalls = 0;
    const run = connected((request) => {
      if (request.url === TOKEN_URI) return tokenAnswer(`ya29.revoked-${++minted}`);
      return ++statusCalls === 1 ? answer(401, fixture('error-401')) : answer(200, fixture('running'));
    });
    await assert.rejects(run.lookup(), (error) => isGatewayError(error) && error.code === 'upstream_auth_failed');
    const state = await run.lookup();
    assert.equal(state.status, 'in_progress');
    assert.deepEqual(run.statusRequests().map((request) => request.headers['authorization']), ['Bearer ya29.revoked-1', 'Bearer ya29.revoked-2']);
  });
});

describe('vertex token endpoint refusals', () => {
  const withToken = (tokenResponse: UpstreamResponse) => (request: MadeRequest) => (request.url === TOKEN_URI ? tokenResponse : answer(200, fixture('running')));
  const codeOf = async (tokenResponse: UpstreamResponse) => (await lookupError(vertex, NAME, withToken(tokenResponse), { credentials: { serviceAccountFile: keyFile }, baseUrl: PROXY })).code;

  it('an assertion refused (400 invalid_grant), or 401/403, is upstream_auth_failed', async () => {
    const error = await lookupError(vertex, NAME, withToken(answer(400, fixture('token-invalid-grant'))), { credentials: { serviceAccountFile: keyFile }, baseUrl: PROXY });
    assert.equal(error.code, 'upstream_auth_failed');
    assert.equal(error.detail, "vertex's token endpoint refused the service account's credentials (HTTP 400)");
    assert.equal(await codeOf(answer(401, { error: 'invalid_client' })), 'upstream_auth_failed');
    assert.equal(await codeOf(answer(403, { error: 'access_denied' })), 'upstream_auth_failed');
  });

  it('429 is upstream_rate_limited, 5xx and 404 upstream_error, an answer without a token upstream_invalid_response', async () => {
    assert.equal(await codeOf(answer(429, '', { 'retry-after': '7' })), 'upstream_rate_limited');
    assert.equal(await codeOf(answer(503, 'unavailable')), 'upstream_error');
    assert.equal(await codeOf(answer(404, 'no such endpoint')), 'upstream_error');
    assert.equal(await codeOf(answer(200, { token_type: 'Bearer' })), 'upstream_invalid_response');
    assert.equal(await codeOf(answer(200, '<html>login</html>')), 'upstream_invalid_response');
  });

  it('no status call is made without a token', async () => {
    const requests: MadeRequest[] = [];
    await lookupError(vertex, NAME, (request) => (requests.push(request), request.url === TOKEN_URI ? answer(400, fixture('token-invalid-grant')) : answer(200, '{}')), {
      credentials: { serviceAccountFile: keyFile },
      baseUrl: PROXY,
    });
    assert.deepEqual(requests.map((request) => request.url), [TOKEN_URI]);
  });
});

describe('vertex operations', () => {
  it('a running operation (done false, or no done at all) is in_progress, "running", with the model from its name', async () => {
    for (const name of ['running', 'running-without-done']) {
      assert.deepEqual(await stateOf(fixture(name)), {
        provider_task_id: NAME,
        status: 'in_progress',
        provider_status: 'running',
        progress: null,
        url: null,
        outputs: [],
        error: null,
        model: 'veo-3.0-generate-001',
        created_at: null,
        completed_at: null,
        expires_at: null,
      });
    }
  });

  it("a done operation's gcsUri is its object on the storage origin", async () => {
    assert.deepEqual(await stateOf(fixture('done-gcs')), {
      provider_task_id: NAME,
      status: 'succeeded',
      provider_status: 'done',
      progress: 100,
      url: 'https://storage.googleapis.com/my-bucket/veo/sample_0.mp4',
      outputs: [{ type: 'video', url: 'https://storage.googleapis.com/my-bucket/veo/sample_0.mp4' }],
      error: null,
      model: 'veo-3.0-generate-001',
      created_at: null,
      completed_at: null,
      expires_at: null,
    });
  });

  it('every video is an output, object names URL-encoded per segment, on VERTEX_STORAGE_BASE_URL (path kept); one filtered of two still succeeds', async () => {
    const state = await stateOf(fixture('done-gcs-two'), { urls: { storageBaseUrl: 'http://127.0.0.1:9/storage' } });
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(state.outputs, [
      { type: 'video', url: 'http://127.0.0.1:9/storage/my-bucket/veo%20runs/1234/sample_0.mp4' },
      { type: 'video', url: 'http://127.0.0.1:9/storage/my-bucket/veo%20runs/1234/sample_1.mp4' },
    ]);
  });

  it('mimeType decides the output type', async () => {
    const body = JSON.parse(fixture('done-gcs')) as { response: { videos: Array<Record<string, string>> } };
    body.response.videos = [
      { gcsUri: 'gs://b/poster.png', mimeType: 'image/png' },
      { gcsUri: 'gs://b/clip.mp4', mimeType: 'video/mp4' },
      { gcsUri: 'gs://b/track.wav', mimeType: 'audio/wav' },
      { gcsUri: 'gs://b/meta.json', mimeType: 'application/json' },
    ];
    const state = await stateOf(JSON.stringify(body));
    assert.deepEqual(state.outputs.map((output) => output.type), ['image', 'video', 'audio', 'file']);
    assert.equal(state.url, 'https://storage.googleapis.com/b/clip.mp4', 'url is the first video');
  });

  it('an object that is not gs://, or whose name would climb out of its bucket, is no output', async () => {
    const body = JSON.parse(fixture('done-gcs')) as { response: { videos: Array<Record<string, string>> } };
    for (const gcsUri of ['gs://b/../other-bucket/x.mp4', 'gs://b/a/./x.mp4', 's3://b/x.mp4', 'gs://b']) {
      body.response.videos = [{ gcsUri }];
      const error = await lookupError(vertex, NAME, scripted(JSON.stringify(body)), { credentials: { serviceAccountFile: keyFile }, baseUrl: PROXY });
      assert.equal(error.code, 'upstream_invalid_response', gcsUri);
    }
  });

  it('an inline video is a private output pointing into the operation: the state holds no bytes', async () => {
    const cases = [
      ['done-inline', 'inline:videos/0'],
      ['done-inline-top-level', 'inline:response'],
      ['done-inline-video-field', 'inline:response'],
    ] as const;
    for (const [name, locator] of cases) {
      const state = await stateOf(fixture(name));
      assert.equal(state.status, 'succeeded', name);
      assert.deepEqual(state.outputs, [{ type: 'video', url: locator, private: true }], name);
      assert.equal(state.url, locator);
      assert.ok(!JSON.stringify(state).includes('dmVvLWlubGluZS1ieXRlcw'), `${name}: no base64 in the state`);
    }
  });

  it('a failed operation gives error.code and error.message; a code-less one its status; an empty one the generic failure', async () => {
    const failed = await stateOf(fixture('failed'));
    assert.deepEqual([failed.status, failed.provider_status, failed.error, failed.url], ['failed', 'done', { code: '3', message: 'Unsupported aspect ratio' }, null]);
    const byStatus = await stateOf(JSON.stringify({ name: NAME, done: true, error: { status: 'FAILED_PRECONDITION', message: 'Bucket not writable' } }));
    assert.deepEqual(byStatus.error, { code: 'FAILED_PRECONDITION', message: 'Bucket not writable' });
    const bare = await stateOf(JSON.stringify({ name: NAME, done: true, error: {} }));
    assert.deepEqual(bare.error, { code: 'task_failed', message: 'The provider reported a failure without details' });
    const canceled = await stateOf(fixture('canceled'));
    assert.deepEqual([canceled.status, canceled.error], ['failed', { code: '1', message: 'Operation was cancelled.' }]);
  });

  it('done with no video and the safety filter is failed content_filtered, with its first reason', async () => {
    const filtered = await stateOf(fixture('filtered'));
    assert.deepEqual([filtered.status, filtered.provider_status, filtered.outputs], ['failed', 'done', []]);
    assert.deepEqual(filtered.error, {
      code: 'content_filtered',
      message: 'We encountered an issue with the audio for your prompt. You have not been charged for this attempt.',
    });
    const countOnly = await stateOf(JSON.stringify({ name: NAME, done: true, response: { raiMediaFilteredCount: 2 } }));
    assert.deepEqual(countOnly.error, { code: 'content_filtered', message: 'The provider withheld the result: its safety filter blocked the generated video' });
  });

  it('done with neither a video nor a filter is upstream_invalid_response, not a success', async () => {
    for (const body of [{ name: NAME, done: true }, { name: NAME, done: true, response: { videos: [] } }, { name: NAME, done: true, response: { videos: [{}] } }]) {
      const error = await lookupError(vertex, NAME, scripted(JSON.stringify(body)), { credentials: { serviceAccountFile: keyFile }, baseUrl: PROXY });
      assert.equal(error.code, 'upstream_invalid_response', JSON.stringify(body));
    }
  });
});

describe('vertex errors', () => {
  const errorOf = (response: UpstreamResponse) => lookupError(vertex, NAME, scripted(response), { credentials: { serviceAccountFile: keyFile }, baseUrl: PROXY });

  it('404 is task_not_found', async () => {
    const error = await errorOf(answer(404, fixture('error-404')));
    assert.deepEqual([error.code, error.detail], ['task_not_found', 'vertex has no task with this id']);
  });

  it('401 and 403 are upstream_auth_failed; 429 upstream_rate_limited with its Retry-After; 400 and 5xx upstream_error', async () => {
    assert.equal((await errorOf(answer(401, fixture('error-401')))).code, 'upstream_auth_failed');
    assert.equal((await errorOf(answer(403, fixture('error-403')))).code, 'upstream_auth_failed');
    const limited = await errorOf(answer(429, fixture('error-429'), { 'retry-after': '12' }));
    assert.deepEqual([limited.code, limited.retryAfter], ['upstream_rate_limited', 12]);
    assert.equal((await errorOf(answer(400, { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'bad name' } }))).code, 'upstream_error');
    assert.equal((await errorOf(answer(500, { error: { code: 500, status: 'INTERNAL', message: 'oops' } }))).code, 'upstream_error');
  });

  it('a body that is not an operation is upstream_invalid_response, and its text stays out of the detail', async () => {
    for (const body of ['<html>502</html>', '[]', 'null', '{"done": "yes"}']) {
      const error = await errorOf(answer(200, body));
      assert.equal(error.code, 'upstream_invalid_response', body);
      assert.ok(!error.detail.includes(body));
    }
  });
});

describe('vertex inline content', () => {
  it('asks the operation again and answers its decoded bytes and type', async () => {
    for (const [name, locator, contentType] of [
      ['done-inline', 'inline:videos/0', 'video/mp4'],
      ['done-inline-top-level', 'inline:response', 'video/mp4'],
      ['done-inline-video-field', 'inline:response', 'video/webm'],
    ] as const) {
      const run = connected(scripted(fixture(name)));
      const content = await run.connection.openInline!(NAME, { type: 'video', url: locator, private: true }, run.call);
      assert.deepEqual([content.contentType, content.bytes.toString()], [contentType, 'veo-inline-bytes'], name);
      const status = run.statusRequests();
      assert.equal(status.length, 1);
      assert.deepEqual([status[0]!.method, status[0]!.json, status[0]!.maxBodyBytes], ['POST', { operationName: NAME }, 64 * 1024 * 1024]);
    }
  });

  it('an operation that no longer holds the video is content_expired', async () => {
    const run = connected(scripted(fixture('done-gcs')));
    await assert.rejects(run.connection.openInline!(NAME, { type: 'video', url: 'inline:videos/0', private: true }, run.call), (error) => isGatewayError(error) && error.code === 'content_expired');
    await assert.rejects(run.connection.openInline!(NAME, { type: 'video', url: 'inline:videos/7', private: true }, run.call), (error) => isGatewayError(error) && error.code === 'content_expired');
  });
});

describe('vertex service-account file', () => {
  const connectWith = (file: string) => () =>
    vertex.connect({
      settings: { name: 'vertex', credentials: { serviceAccountFile: file }, baseUrl: PROXY, urls: {}, pollIntervalMs: 10_000, connections: 1 },
      addSecret: () => {},
      newCall: () => {
        throw new Error('no call');
      },
    });
  const refused = (pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('PRIVATE KEY'), 'never the key');
    return true;
  };

  it('a file that cannot be read stops the connection, naming GOOGLE_APPLICATION_CREDENTIALS and the path', () => {
    const missing = join(directory, 'missing.json');
    assert.throws(connectWith(missing), refused(new RegExp(`^GOOGLE_APPLICATION_CREDENTIALS: cannot read the service-account file "${missing}" \\(ENOENT\\)`)));
    assert.throws(connectWith(directory), refused(/^GOOGLE_APPLICATION_CREDENTIALS: cannot read .* \(EISDIR\)/));
  });

  it('a file that is not a service-account key names what is wrong, never the key', () => {
    assert.throws(connectWith(writeKeyFile('not-json.json', 'private_key: nope')), refused(/is not a service-account JSON key \(the JSON itself: missing or invalid/));
    assert.throws(connectWith(writeKeyFile('user.json', { ...SERVICE_ACCOUNT, type: 'authorized_user' })), refused(/is not a service-account JSON key \(type: missing or invalid/));
    const { client_email: _email, ...withoutEmail } = SERVICE_ACCOUNT;
    assert.throws(connectWith(writeKeyFile('no-email.json', withoutEmail)), refused(/\(client_email: missing or invalid/));
    assert.throws(connectWith(writeKeyFile('bad-key.json', { ...SERVICE_ACCOUNT, private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' })), refused(/the private_key of .* is not a PEM private key/));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(connectWith(writeKeyFile('ec.json', { ...SERVICE_ACCOUNT, private_key: ec })), refused(/the private_key of .* is not an RSA key/));
  });
});
