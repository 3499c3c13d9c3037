/**
 * The vertex simulator: the key file it writes, its token endpoint (the assertion's
 * signature checked with the account's public key, its claims as Google checks them), its
 * status call behind the tokens it issued, the operation shapes, and the storage objects.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { vertex } from '../../src/providers/vertex/index.js';
import { profile, tokenDesk } from '../../src/providers/vertex/simulator.js';
import { startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const START = Date.parse('2026-04-10T14:32:05Z');
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const MODEL = 'veo-3.0-generate-001';
const nameOf = (operation: string, location = 'us-central1', model = MODEL) => `projects/taskgate-sim/locations/${location}/publishers/google/models/${model}/operations/${operation}`;
const OPERATION = nameOf('2b7f3c10-9d4e-4a61-8f25-0e6c1d9b7a34');
const EXAMPLE = 'projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/0c33f4b2-8a1d-4c6e-9f02-5b7d3e1a9c40';
const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 40 },
  { atMs: 2000, status: 'succeeded' },
];

interface KeyFile {
  type: string;
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri: string;
}
interface Video {
  gcsUri?: string;
  bytesBase64Encoded?: string;
  mimeType?: string;
}
interface OperationBody {
  name: string;
  done?: boolean;
  error?: { code: number; message: string; status: string };
  response?: { '@type': string; videos?: Video[]; bytesBase64Encoded?: string; encoding?: string; raiMediaFilteredCount?: number; raiMediaFilteredReasons?: string[] };
}
interface GoogleError {
  error: { code: number; message: string; status: string };
}

const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function sign(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key, 'base64url')}`;
}

describe('vertex simulator', () => {
  let simulator: Simulator;
  let clock = START;
  let account: KeyFile;
  let privateKey: KeyObject;

  const claims = (overrides: Record<string, unknown> = {}) => {
    const iat = Math.floor(Date.now() / 1000);
    return { iss: account.client_email, scope: SCOPE, aud: account.token_uri, iat, exp: iat + 3600, ...overrides };
  };
  const header = (overrides: Record<string, unknown> = {}) => ({ alg: 'RS256', typ: 'JWT', kid: account.private_key_id, ...overrides });

  async function grant(assertion: string, grantType = GRANT): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await request(`${simulator.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grantType, assertion }).toString(),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  }

  async function token(): Promise<string> {
    const { status, body } = await grant(sign(header(), claims(), privateKey));
    assert.equal(status, 200);
    return body['access_token'] as string;
  }

  async function poll<Body>(id: string, headers: Record<string, string>, body: unknown = { operationName: id }, path = statusPath(id)) {
    const response = await request(`${simulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: response.statusCode, body: (await response.body.json()) as Body };
  }

  function statusPath(id: string): string {
    const [, project, , location, , , , model] = id.split('/');
    return `/v1/projects/${project}/locations/${location}/publishers/google/models/${model}:fetchPredictOperation`;
  }

  const bearer = async () => ({ authorization: `Bearer ${await token()}`, 'x-goog-user-project': 'taskgate-sim' });

  async function pollAt(id: string, offsets: number[]): Promise<OperationBody[]> {
    const headers = await bearer();
    const bodies: OperationBody[] = [];
    for (const offset of offsets) {
      clock = START + offset;
      bodies.push((await poll<OperationBody>(id, headers)).body);
    }
    return bodies;
  }

  before(async () => {
    simulator = await startSimulator({ provider: 'vertex', now: () => clock });
    account = JSON.parse(readFileSync(simulator.env['GOOGLE_APPLICATION_CREDENTIALS']!, 'utf8')) as KeyFile;
    privateKey = createPrivateKey(account.private_key);
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    clock = START;
    tokenDesk(simulator.url).lifetimeSeconds = 3599;
  });

  it('writes a service-account key file whose token_uri is its own, and removes it when it closes', async () => {
    assert.deepEqual(
      { type: account.type, project_id: account.project_id, client_email: account.client_email, token_uri: account.token_uri },
      { type: 'service_account', project_id: 'taskgate-sim', client_email: 'veo-runner@taskgate-sim.iam.gserviceaccount.com', token_uri: `${simulator.url}/token` },
    );
    assert.match(account.private_key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(privateKey.asymmetricKeyType, 'rsa');
    assert.match(account.private_key_id, /^[0-9a-f]{40}$/);
    assert.deepEqual(simulator.env, {
      GOOGLE_APPLICATION_CREDENTIALS: simulator.credentials['serviceAccountFile'],
      VERTEX_BASE_URL: simulator.url,
      VERTEX_STORAGE_BASE_URL: `${simulator.url}/storage`,
    });
    const other = await startSimulator({ provider: 'vertex' });
    const file = other.env['GOOGLE_APPLICATION_CREDENTIALS']!;
    assert.ok(existsSync(file));
    assert.notEqual(file, simulator.env['GOOGLE_APPLICATION_CREDENTIALS']);
    await other.close();
    assert.equal(existsSync(file), false);
  });

  it('grants a token for an assertion signed with the account key, with the claims Google checks', async () => {
    const issuedBefore = tokenDesk(simulator.url).issued;
    const { status, body } = await grant(sign(header(), claims(), privateKey));
    assert.equal(status, 200);
    assert.match(String(body['access_token']), /^ya29\.sim-[A-Za-z0-9_-]{43}$/);
    assert.deepEqual([body['expires_in'], body['token_type']], [3599, 'Bearer']);
    assert.equal(tokenDesk(simulator.url).issued - issuedBefore, 1);
  });

  it('refuses assertions the way Google does', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const desk = tokenDesk(simulator.url);
    const [issuedBefore, refusedBefore] = [desk.issued, desk.refused];
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string, string, string]> = [
      ['another key', sign(header(), claims(), stranger), 'invalid_grant', 'Invalid JWT Signature.'],
      ['another key id', sign(header({ kid: 'f'.repeat(40) }), claims(), privateKey), 'invalid_grant', 'Invalid JWT Signature.'],
      ['HS256', `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims())}.c2ln`, 'invalid_grant', 'Invalid JWT Signature.'],
      ['not a JWT', 'not-a-jwt', 'invalid_grant', 'Invalid JWT Signature.'],
      ['another issuer', sign(header(), claims({ iss: 'someone@else.iam.gserviceaccount.com' }), privateKey), 'invalid_grant', 'Invalid email or User ID'],
      ['another audience', sign(header(), claims({ aud: 'https://oauth2.googleapis.com/token' }), privateKey), 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${account.token_uri}`],
      ['no scope', sign(header(), claims({ scope: undefined }), privateKey), 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.'],
      ['another scope', sign(header(), claims({ scope: 'https://www.googleapis.com/auth/drive' }), privateKey), 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.'],
      ['expired', sign(header(), claims({ iat: now - 7200, exp: now - 3600 }), privateKey), 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.'],
      ['longer than an hour', sign(header(), claims({ exp: now + 7200 }), privateKey), 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.'],
      ['issued in the future', sign(header(), claims({ iat: now + 1800, exp: now + 3600 }), privateKey), 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.'],
    ];
    for (const [why, assertion, error, description] of cases) {
      const { status, body } = await grant(assertion);
      assert.deepEqual([status, body], [400, { error, error_description: description }], why);
    }
    const wrongGrant = await grant(sign(header(), claims(), privateKey), 'client_credentials');
    assert.deepEqual([wrongGrant.status, wrongGrant.body['error']], [400, 'unsupported_grant_type']);
    assert.deepEqual([desk.issued - issuedBefore, desk.refused - refusedBefore], [0, cases.length + 1]);
  });

  it("refuses a status call without one of its tokens, or with an expired one, with Google's 401; another billed project with a 403", async () => {
    const refused: Array<Record<string, string>> = [{}, { authorization: 'Bearer ya29.not-issued-by-it' }, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }];
    for (const headers of refused) {
      const { status, body } = await poll<GoogleError>(OPERATION, headers);
      assert.equal(status, 401);
      assert.deepEqual([body.error.code, body.error.status], [401, 'UNAUTHENTICATED']);
    }
    tokenDesk(simulator.url).lifetimeSeconds = 0;
    const expired = await poll<GoogleError>(OPERATION, { authorization: `Bearer ${await token()}` });
    assert.deepEqual([expired.status, expired.body.error.status], [401, 'UNAUTHENTICATED']);
    tokenDesk(simulator.url).lifetimeSeconds = 3599;
    const denied = await poll<GoogleError>(OPERATION, { authorization: `Bearer ${await token()}`, 'x-goog-user-project': 'someone-else' });
    assert.deepEqual([denied.status, denied.body.error.status], [403, 'PERMISSION_DENIED']);
    assert.equal(simulator.hits(OPERATION), 5, 'refused calls are counted too');
  });

  it('answers the operation named in the body, which must be of the model in the path', async () => {
    const headers = await bearer();
    const wrongModel = await poll<GoogleError>(OPERATION, headers, { operationName: nameOf('x', 'us-central1', 'veo-3.1-generate-preview') });
    assert.deepEqual([wrongModel.status, wrongModel.body.error.status], [400, 'INVALID_ARGUMENT']);
    const notJson = await request(`${simulator.url}${statusPath(OPERATION)}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{' });
    assert.equal(notJson.statusCode, 400);
    await notJson.body.dump();
    const get = await request(`${simulator.url}${statusPath(OPERATION)}`, { headers });
    assert.equal(get.statusCode, 404, 'a GET is not the status call');
    await get.body.dump();
    const missing = await poll<GoogleError>(nameOf('missing-0001'), headers);
    assert.deepEqual([missing.status, missing.body], [404, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } }]);
  });

  it('renders a running operation without done, then done: false, then its video in Cloud Storage', async () => {
    simulator.setTask(OPERATION, { variant: 'gcs', timeline: LIFE });
    const [queued, running, done] = await pollAt(OPERATION, [0, 1000, 2000]);
    assert.deepEqual(queued, { name: OPERATION });
    assert.deepEqual(running, { name: OPERATION, done: false });
    assert.deepEqual(done, {
      name: OPERATION,
      done: true,
      response: {
        '@type': 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse',
        raiMediaFilteredCount: 0,
        videos: [{ gcsUri: `gs://taskgate-sim-veo/veo/taskgate-sim/us-central1/${MODEL}/2b7f3c10-9d4e-4a61-8f25-0e6c1d9b7a34/sample_0.webm`, mimeType: 'video/webm' }],
      },
    });
  });

  it('renders inline videos as base64 of a real file, in videos[] or at the top of the response', async () => {
    const video = loadAsset('sample.webm').bytes!;
    simulator.setTask(OPERATION, { variant: 'inline', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const [inline] = await pollAt(OPERATION, [0]);
    assert.equal(inline?.response?.videos?.[0]?.mimeType, 'video/webm');
    assert.equal(sha256(Buffer.from(inline?.response?.videos?.[0]?.bytesBase64Encoded ?? '', 'base64')), sha256(video));
    simulator.setTask(OPERATION, { variant: 'inline_top', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const [top] = await pollAt(OPERATION, [0]);
    assert.equal(top?.response?.videos, undefined);
    assert.equal(top?.response?.encoding, 'webm');
    assert.equal(sha256(Buffer.from(top?.response?.bytesBase64Encoded ?? '', 'base64')), sha256(video));
  });

  it('renders failures: an error, the safety filter (ids saying "filter"), and a cancel', async () => {
    const failed = (id: string) => {
      simulator.setTask(id, { variant: 'gcs', timeline: [{ atMs: 0, status: 'failed' }] });
      return pollAt(id, [0]).then(([body]) => body!);
    };
    const filtered = await failed(nameOf('filtered-0001'));
    assert.deepEqual([filtered.done, filtered.error, filtered.response?.videos, filtered.response?.raiMediaFilteredCount], [true, undefined, undefined, 1]);
    assert.match(filtered.response?.raiMediaFilteredReasons?.[0] ?? '', /You have not been charged/);
    const outcomes = new Set<string>();
    for (let index = 0; index < 12; index++) {
      const body = await failed(nameOf(`failure-${index}`));
      if (body.error !== undefined) {
        assert.ok(['INVALID_ARGUMENT', 'INTERNAL'].includes(body.error.status), body.error.status);
        assert.equal(typeof body.error.code, 'number');
        outcomes.add('error');
      } else {
        assert.equal(body.response?.raiMediaFilteredCount, 1);
        outcomes.add('filtered');
      }
    }
    assert.deepEqual([...outcomes].sort(), ['error', 'filtered'], 'both failure shapes occur');
    const again = await failed(nameOf('failure-3'));
    assert.deepEqual(again, await failed(nameOf('failure-3')), 'a story is the same every time');
    simulator.setTask(OPERATION, { timeline: [{ atMs: 0, status: 'canceled' }] });
    const [canceled] = await pollAt(OPERATION, [0]);
    assert.deepEqual(canceled, { name: OPERATION, done: true, error: { code: 1, message: 'Operation was cancelled.', status: 'CANCELLED' } });
  });

  it('serves the objects behind gcsUri with its tokens, ranges included', async () => {
    simulator.setTask(OPERATION, { variant: 'gcs', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const [done] = await pollAt(OPERATION, [0]);
    const object = done!.response!.videos![0]!.gcsUri!.replace('gs://', `${simulator.url}/storage/`);
    const { authorization } = await bearer();
    const video = loadAsset('sample.webm').bytes!;
    const whole = await request(object, { headers: { authorization } });
    assert.deepEqual([whole.statusCode, whole.headers['content-type']], [200, 'video/webm']);
    assert.equal(sha256(Buffer.from(await whole.body.arrayBuffer())), sha256(video));
    const range = await request(object, { headers: { authorization, range: 'bytes=0-99' } });
    assert.deepEqual([range.statusCode, range.headers['content-range']], [206, `bytes 0-99/${video.length}`]);
    assert.equal((await range.body.arrayBuffer()).byteLength, 100);
    const anonymous = await request(object);
    assert.equal(anonymous.statusCode, 401);
    await anonymous.body.dump();
    for (const path of ['/storage/another-bucket/veo/a/b/c/d/sample_0.webm', `/storage/taskgate-sim-veo/veo/taskgate-sim/us-central1/${MODEL}/missing-1/sample_0.webm`]) {
      const absent = await request(`${simulator.url}${path}`, { headers: { authorization } });
      assert.equal(absent.statusCode, 404, path);
      await absent.body.dump();
    }
  });

  it("the documented example runs, then is done 10 s later with an MP4 in Cloud Storage", async () => {
    const [running, done] = await pollAt(EXAMPLE, [0, 10_000]);
    assert.deepEqual(running, { name: EXAMPLE, done: false });
    const gcsUri = done?.response?.videos?.[0]?.gcsUri ?? '';
    assert.equal(gcsUri, 'gs://taskgate-sim-veo/veo/p1/us-central1/veo-3.0-generate-001/0c33f4b2-8a1d-4c6e-9f02-5b7d3e1a9c40/sample_0.mp4');
    const { authorization } = await bearer();
    const file = await request(gcsUri.replace('gs://', `${simulator.url}/storage/`), { headers: { authorization } });
    assert.equal(file.headers['content-type'], 'video/mp4');
    assert.equal(sha256(Buffer.from(await file.body.arrayBuffer())), sha256(loadAsset('sample.mp4').bytes!));
  });

  it('faults apply to its status call', async () => {
    simulator.injectFault(OPERATION, { kind: 'status', status: 503, times: 1 });
    const headers = await bearer();
    const faulted = await poll<GoogleError>(OPERATION, headers);
    assert.deepEqual([faulted.status, faulted.body.error.status], [503, 'UNAVAILABLE']);
    simulator.injectFault(OPERATION, { kind: 'rate_limit', retryAfter: 9, times: 1 });
    const limited = await poll<GoogleError>(OPERATION, headers);
    assert.deepEqual([limited.status, limited.body.error.status], [429, 'RESOURCE_EXHAUSTED']);
    assert.equal((await poll<OperationBody>(OPERATION, headers)).status, 200);
    assert.equal(simulator.hits(OPERATION), 3);
  });

  it('makes sample ids of the operation form, distinct per seed, which it owns; a direct client has a token of its own', async () => {
    const ids = ['a', 'b', 'bench-1'].map((seed) => profile.sampleId!(seed));
    assert.equal(new Set(ids).size, 3);
    assert.equal(profile.sampleId!('a'), ids[0], 'the same seed, the same id');
    for (const id of ids) assert.ok(vertex.nativeIds.pattern.test(id), id);
    const { status, body } = await poll<OperationBody>(ids[0]!, simulator.clientHeaders);
    assert.deepEqual([status, body.name], [200, ids[0]]);
  });
});
