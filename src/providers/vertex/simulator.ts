/**
 * Vertex AI as its clients see it (docs/providers/vertex.md): a token endpoint that grants
 * access tokens for the service account's signed JWTs (`POST /token`, checked against the
 * account's public key), `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:fetchPredictOperation`
 * answering the operation named in its body, and Cloud Storage's objects under `/storage/`,
 * both behind the tokens it issued. It writes the service-account key file a gateway is
 * given, and removes it when it closes.
 */
import { createHash, createVerify, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAsset, type CommittedAssetName } from '../../simulators/media/assets.js';
import { ownVariant, type ErrorAnswer, type ProviderProfile, type RenderInput, type SeedTask, type SimCredentials, type SimRequest, type SimRoute } from '../../simulators/profile.js';
import type { Variant } from '../../simulators/script.js';
import { pick } from '../../simulators/timeline.js';
import { CLOUD_PLATFORM_SCOPE, JWT_BEARER_GRANT } from './auth.js';
import { EXAMPLE_OPERATION, parseOperationName, VERTEX_NAME } from './map.js';

/** Where the videos are: Cloud Storage, inline in `videos[]`, or inline at the top of `response` (seen by relays). */
export const VERTEX_VARIANTS = ['gcs', 'inline', 'inline_top'] as const;

export const SIMULATOR_PROJECT = 'taskgate-sim';
export const SIMULATOR_BUCKET = 'taskgate-sim-veo';
const CLIENT_EMAIL = `veo-runner@${SIMULATOR_PROJECT}.iam.gserviceaccount.com`;
const TOKEN_PATH = '/token';
export const STORAGE_PATH = '/storage';
/** Google's tokens last an hour, less the second it took to make them. */
const TOKEN_LIFETIME_SECONDS = 3599;
/** How far ahead of this clock a JWT's `iat` may be (the client's clock may run fast). */
const CLOCK_SKEW_SECONDS = 300;
const MAX_ASSERTION_SECONDS = 3600;
const RESPONSE_TYPE = 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse';
const FETCH_OPERATION = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):fetchPredictOperation$/;

/** The example of Vertex AI's reference: done, its video in the caller's bucket; asked 10 s before it finished. */
const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_OPERATION,
    {
      variant: 'gcs',
      model: 'veo-3.0-generate-001',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 10_000, status: 'succeeded' },
      ],
    },
  ],
]);

const json = JSON.stringify;

/** google.rpc.Status in Google's error envelope. */
function googleError(code: number, status: string, message: string): ErrorAnswer {
  return { status: code, body: json({ error: { code, message, status } }) };
}

const NOT_FOUND = googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
const UNAUTHENTICATED = googleError(
  401,
  'UNAUTHENTICATED',
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
);
const RATE_LIMITED = googleError(
  429,
  'RESOURCE_EXHAUSTED',
  'Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: veo-3.0-generate. Please submit a quota increase request.',
);
const GOOGLE_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const FAILURES = [
  { code: 3, message: 'Unsupported aspect ratio: 21:9. Supported values are 16:9 and 9:16.', status: 'INVALID_ARGUMENT' },
  { code: 13, message: 'Video generation failed due to an internal error. Please try again.', status: 'INTERNAL' },
] as const;
const FILTER_REASONS = [
  'We encountered an issue with the audio for your prompt. You have not been charged for this attempt.',
  "Veo could not generate videos because the input prompt violates Vertex AI's usage guidelines. You have not been charged for this attempt.",
] as const;

/** What the simulator keeps to check the credentials it handed out. */
interface VertexCheck {
  readonly publicKey: KeyObject;
  readonly keyId: string;
  readonly tokenUri: string;
  /** Issued tokens and when each expires (epoch ms). */
  readonly tokens: Map<string, number>;
  /** The token of a direct client (the benchmarks' reference), valid while the simulator runs. */
  readonly directToken: string;
  lifetimeSeconds: number;
  issued: number;
  refused: number;
}

/** The token endpoint of one simulator, for tests: how many tokens it issued or refused, and how long new ones last. */
export interface TokenDesk {
  readonly issued: number;
  readonly refused: number;
  lifetimeSeconds: number;
}

const desks = new Map<string, VertexCheck>();

/** The token endpoint of the vertex simulator listening at `simulatorUrl`. */
export function tokenDesk(simulatorUrl: string): TokenDesk {
  const desk = desks.get(simulatorUrl);
  if (desk === undefined) throw new Error(`no vertex simulator listens at ${simulatorUrl}`);
  return desk;
}

// One RSA key pair per process: making one costs tens of milliseconds, and every test stack starts a simulator.
let keyPair: Promise<{ privateKey: KeyObject; publicKey: KeyObject }> | undefined;

function simulatorKeys(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  keyPair ??= promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return keyPair;
}

/** A key file like the ones the Cloud console makes, whose `token_uri` is this simulator's. */
async function credentials(_values: Readonly<Record<string, string>>, url: string): Promise<SimCredentials> {
  const { privateKey, publicKey } = await simulatorKeys();
  const keyId = randomBytes(20).toString('hex');
  const tokenUri = `${url}${TOKEN_PATH}`;
  const directory = await mkdtemp(join(tmpdir(), 'taskgate-vertex-'));
  const file = join(directory, 'service-account.json');
  const key = {
    type: 'service_account',
    project_id: SIMULATOR_PROJECT,
    private_key_id: keyId,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: CLIENT_EMAIL,
    client_id: String(BigInt(`0x${keyId.slice(0, 16)}`)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    universe_domain: 'googleapis.com',
  };
  await writeFile(file, `${json(key, null, 2)}\n`, { mode: 0o600 });
  const check: VertexCheck = {
    publicKey,
    keyId,
    tokenUri,
    tokens: new Map(),
    directToken: newToken(),
    lifetimeSeconds: TOKEN_LIFETIME_SECONDS,
    issued: 0,
    refused: 0,
  };
  check.tokens.set(check.directToken, Number.POSITIVE_INFINITY);
  desks.set(url, check);
  return {
    values: { serviceAccountFile: file },
    env: { GOOGLE_APPLICATION_CREDENTIALS: file, VERTEX_BASE_URL: url, VERTEX_STORAGE_BASE_URL: `${url}${STORAGE_PATH}` },
    check,
    close: async () => {
      desks.delete(url);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function checkOf(credentials: SimCredentials): VertexCheck {
  return credentials.check as VertexCheck;
}

function newToken(): string {
  return `ya29.sim-${randomBytes(32).toString('base64url')}`;
}

function oauthError(error: string, description: string): ErrorAnswer {
  return { status: 400, body: json({ error, error_description: description }) };
}

const TIMEFRAME = 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';

function decodeSegment(segment: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the token endpoint refuses this assertion, as Google words it; undefined when it grants it. */
function assertionRefusal(check: VertexCheck, assertion: string, nowSeconds: number): ErrorAnswer | undefined {
  const parts = assertion.split('.');
  const header = decodeSegment(parts[0]);
  const claims = decodeSegment(parts[1]);
  const signatureIntact =
    parts.length === 3 &&
    header?.['alg'] === 'RS256' &&
    (header['kid'] === undefined || header['kid'] === check.keyId) &&
    createVerify('RSA-SHA256').update(`${parts[0]}.${parts[1]}`).verify(check.publicKey, Buffer.from(parts[2] ?? '', 'base64url'));
  if (!signatureIntact || claims === undefined) return oauthError('invalid_grant', 'Invalid JWT Signature.');
  if (claims['iss'] !== CLIENT_EMAIL) return oauthError('invalid_grant', 'Invalid email or User ID');
  if (claims['aud'] !== check.tokenUri) return oauthError('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${check.tokenUri}`);
  const scope = claims['scope'];
  if (typeof scope !== 'string' || !scope.split(' ').includes(CLOUD_PLATFORM_SCOPE)) {
    return oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
  }
  const { iat, exp } = claims;
  if (!Number.isInteger(iat) || !Number.isInteger(exp)) return oauthError('invalid_grant', TIMEFRAME);
  const issuedAt = iat as number;
  const expiresAt = exp as number;
  if (expiresAt <= nowSeconds || issuedAt > nowSeconds + CLOCK_SKEW_SECONDS || expiresAt - issuedAt > MAX_ASSERTION_SECONDS) {
    return oauthError('invalid_grant', TIMEFRAME);
  }
  return undefined;
}

/** `POST /token`: the JWT bearer grant; an access token for a valid assertion. */
function tokenAnswer(check: VertexCheck, request: SimRequest): ErrorAnswer {
  const form = new URLSearchParams(request.body);
  const grantType = form.get('grant_type');
  const assertion = form.get('assertion');
  let refusal: ErrorAnswer | undefined;
  if (grantType !== JWT_BEARER_GRANT) refusal = oauthError('unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
  else if (assertion === null || assertion === '') refusal = oauthError('invalid_request', 'Missing required parameter: assertion');
  else refusal = assertionRefusal(check, assertion, Math.floor(Date.now() / 1000));
  if (refusal !== undefined) {
    check.refused++;
    return refusal;
  }
  const now = Date.now();
  for (const [token, expiresAt] of check.tokens) if (expiresAt <= now) check.tokens.delete(token);
  const token = newToken();
  check.tokens.set(token, now + check.lifetimeSeconds * 1000);
  check.issued++;
  return { status: 200, body: json({ access_token: token, expires_in: check.lifetimeSeconds, token_type: 'Bearer' }) };
}

function decodePart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** The status call: the operation named in the body, which must live under the path's model. */
function statusRoute(match: RegExpExecArray, body: string): SimRoute {
  const [project, location, model] = [match[1], match[2], match[3]].map((part) => decodePart(part ?? ''));
  let operationName: unknown;
  try {
    operationName = (JSON.parse(body) as { operationName?: unknown } | null)?.operationName;
  } catch {
    return { kind: 'answer', answer: googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.') };
  }
  const prefix = `projects/${project}/locations/${location}/publishers/google/models/${model}/operations/`;
  if (typeof operationName !== 'string' || !operationName.startsWith(prefix)) {
    return { kind: 'answer', answer: googleError(400, 'INVALID_ARGUMENT', 'Invalid operation name: it must be an operation of the model in the request path.') };
  }
  return { kind: 'status', id: operationName };
}

/** The object holding an operation's video: its name carries the operation's parts, so the object finds its task. */
function objectName(id: string, extension: 'mp4' | 'webm'): string {
  const name = parseOperationName(id);
  if (name === undefined) return `veo/unknown/sample_0.${extension}`;
  return `veo/${name.project}/${name.location}/${name.model}/${name.operation}/sample_0.${extension}`;
}

const OBJECT_ASSETS: ReadonlyMap<string, CommittedAssetName> = new Map([
  ['sample_0.mp4', 'sample.mp4'],
  ['sample_0.webm', 'sample.webm'],
]);
const NO_SUCH_OBJECT = googleError(404, 'NOT_FOUND', 'No such object.');

/** `GET /storage/{bucket}/veo/{project}/{location}/{model}/{operation}/sample_0.{mp4|webm}`. */
function storageRoute(path: string): SimRoute {
  const parts = path.slice(STORAGE_PATH.length + 1).split('/').map(decodePart);
  const [bucket, folder, project, location, model, operation, file] = parts;
  const asset = file === undefined ? undefined : OBJECT_ASSETS.get(file);
  if (parts.length !== 7 || bucket !== SIMULATOR_BUCKET || folder !== 'veo' || asset === undefined) return { kind: 'answer', answer: NO_SUCH_OBJECT };
  return { kind: 'content', id: `projects/${project}/locations/${location}/publishers/google/models/${model}/operations/${operation}`, asset };
}

function route(request: SimRequest, credentials: SimCredentials): SimRoute | undefined {
  if (request.path === TOKEN_PATH) return request.method === 'POST' ? { kind: 'answer', answer: tokenAnswer(checkOf(credentials), request), open: true } : undefined;
  const status = FETCH_OPERATION.exec(request.path);
  if (status !== null) return request.method === 'POST' ? statusRoute(status, request.body) : undefined;
  if ((request.method === 'GET' || request.method === 'HEAD') && request.path.startsWith(`${STORAGE_PATH}/`)) return storageRoute(request.path);
  return undefined;
}

/** A token this simulator issued and that has not expired; a billed project, when named, must be the account's. */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const check = checkOf(credentials);
  const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
  const expiresAt = token === undefined ? undefined : check.tokens.get(token);
  if (expiresAt === undefined || Date.now() >= expiresAt) return UNAUTHENTICATED;
  const project = request.headers['x-goog-user-project'];
  if (project !== undefined && project !== SIMULATOR_PROJECT) {
    return googleError(403, 'PERMISSION_DENIED', `Caller does not have required permission to use project ${String(project)}.`);
  }
  return undefined;
}

/** Ids saying `filter` are stopped by the safety filter; other failures are it or an error, by hash. */
function failedBody(id: string): Record<string, unknown> {
  const filtered = id.includes('filter') || pick(id, 'vertex-failure', ['error', 'error', 'filtered']) === 'filtered';
  if (!filtered) return { name: id, done: true, error: pick(id, 'vertex-error', FAILURES) };
  return { name: id, done: true, response: { '@type': RESPONSE_TYPE, raiMediaFilteredCount: 1, raiMediaFilteredReasons: [pick(id, 'vertex-filter', FILTER_REASONS)] } };
}

function succeededResponse(variant: (typeof VERTEX_VARIANTS)[number], input: RenderInput): Record<string, unknown> {
  if (variant === 'gcs') {
    // The documented example is an MP4, as Veo makes them; the others a WebM any browser plays.
    const [extension, mimeType] = input.seeded ? (['mp4', 'video/mp4'] as const) : (['webm', 'video/webm'] as const);
    return { '@type': RESPONSE_TYPE, raiMediaFilteredCount: 0, videos: [{ gcsUri: `gs://${SIMULATOR_BUCKET}/${objectName(input.id, extension)}`, mimeType }] };
  }
  const base64 = loadAsset('sample.webm').bytes?.toString('base64') ?? '';
  if (variant === 'inline') return { '@type': RESPONSE_TYPE, raiMediaFilteredCount: 0, videos: [{ bytesBase64Encoded: base64, mimeType: 'video/webm' }] };
  return { '@type': RESPONSE_TYPE, bytesBase64Encoded: base64, encoding: 'webm' };
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(VERTEX_NAME, VERTEX_VARIANTS, variantName);
  const name = input.id;
  switch (input.phase.status) {
    case 'queued':
      return { name };
    case 'in_progress':
      return { name, done: false };
    case 'failed':
      return failedBody(name);
    case 'canceled':
      return { name, done: true, error: { code: 1, message: 'Operation was cancelled.', status: 'CANCELLED' } };
    case 'succeeded':
      return { name, done: true, response: succeededResponse(variant, input) };
  }
}

/** A UUID made from `seed`'s digest: distinct seeds, distinct operations. */
function operationFrom(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export const profile: ProviderProfile = {
  name: VERTEX_NAME,
  variants: VERTEX_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: EXAMPLE_OPERATION,
      note: "Vertex AI's example operation: running, done 10 s later with its video in Cloud Storage, which /content streams with the gateway's token",
    },
    {
      id: `projects/${SIMULATOR_PROJECT}/locations/europe-west4/publishers/google/models/veo-3.1-generate-preview/operations/7d2c9e50-1f3a-4b8e-a6d1-0c5e9b2f4a13`,
      note: 'a video sent inline (base64) in the operation: the Task holds no bytes, /content asks the operation again and serves them decoded',
      script: { variant: 'inline', model: 'veo-3.1-generate-preview', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
    {
      id: `projects/${SIMULATOR_PROJECT}/locations/global/publishers/google/models/veo-3.0-fast-generate-001/operations/demo-filtered-0001`,
      note: 'the safety filter: done with no video is a failed task, error content_filtered with its reason',
      script: { variant: 'gcs', model: 'veo-3.0-fast-generate-001', timeline: [{ atMs: 0, status: 'failed' }] },
    },
  ],
  taskPathPrefix: '/v1/projects/',
  models: ['veo-3.0-generate-001', 'veo-3.0-fast-generate-001', 'veo-3.1-generate-preview', 'veo-3.1-fast-generate-preview'],
  owns: (id) => parseOperationName(id) !== undefined,
  decorateTimeline: (_variant: Variant, timeline) => timeline,
  render,
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHENTICATED,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNAUTHENTICATED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return googleError(status, GOOGLE_STATUS[status] ?? 'UNKNOWN', STATUS_CODES[status] ?? 'Error');
  },
  unknownPath: (method, path) => googleError(404, 'NOT_FOUND', `The requested URL ${path} (${method}) was not found on this server.`),
  // Every request is told apart by `route`.
  contentRoute: () => undefined,
  route,
  authorize,
  credentials,
  clientHeaders: (credentials) => ({ authorization: `Bearer ${checkOf(credentials).directToken}`, 'x-goog-user-project': SIMULATOR_PROJECT }),
  sampleId: (seed) => `projects/${SIMULATOR_PROJECT}/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/${operationFrom(seed)}`,
};
