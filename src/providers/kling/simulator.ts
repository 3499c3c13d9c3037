/**
 * Kling as its clients see it: `GET /v1/videos/{action}/{task_id}` behind a JWT it checks
 * exactly (HS256 signature with the secret key, `typ`, `iss`, `nbf`, `exp`), answered in
 * the `{code, message, request_id, data}` envelope (docs/providers/kling.md). Each task id
 * belongs to one action; asked at another, it is missing (HTTP 404, code 1203).
 */
import { timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { plainCredentials } from '../../simulators/credentials.js';
import {
  filePath,
  ownVariant,
  VIDEO_EXTENSION,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
  type SimCredentials,
  type SimRequest,
  type SimRoute,
} from '../../simulators/profile.js';
import type { PhaseStatus, Variant } from '../../simulators/script.js';
import { fnv1a, holdsShare, pick } from '../../simulators/timeline.js';
import { KLING_NAME, KLING_NATIVE_ID, PROBED_ACTIONS } from './map.js';
import { mintJwt, signJwtInput } from './token.js';

/**
 * Response shapes (docs/providers/kling.md, "Answers"): `plain` as in the API reference,
 * `watermarked` with each video's `watermark_url` and the task's `watermark_info`.
 */
export const KLING_VARIANTS = ['plain', 'watermarked'] as const;
type KlingVariant = (typeof KLING_VARIANTS)[number];

const EXAMPLE_TASK = '867283741759111202';
/** A task whose first status call finds the gateway's token expired (code 1004), whatever it is. */
const EXPIRING_TOKEN_SUFFIX = '1004';

const SUCCEEDS_AFTER_TEN_SECONDS = [
  { atMs: 0, status: 'in_progress' as const },
  { atMs: 10_000, status: 'succeeded' as const },
];

/**
 * Keyed `action/task_id`, as the simulator knows tasks: the example of the docs
 * (image2video, processing when first asked, done 10 s later), another documented id that
 * failed, an older 22-character id, and a task whose first answer is "token expired".
 */
const SEEDS = new Map<string, SeedTask>([
  [`image2video/${EXAMPLE_TASK}`, { variant: 'plain', timeline: SUCCEEDS_AFTER_TEN_SECONDS }],
  ['text2video/743211632612511839', { variant: 'plain', timeline: [{ atMs: 0, status: 'failed' }] }],
  ['text2video/CjNQtmctxFMAAAAAAGZ1Vw', { variant: 'watermarked', timeline: [{ atMs: 0, status: 'succeeded' }] }],
  [`text2video/86728374175911${EXPIRING_TOKEN_SUFFIX}`, { variant: 'plain', timeline: [{ atMs: 0, status: 'succeeded' }] }],
]);
/** The seeds' external ids (`task_info.external_task_id`), as the docs' example has one. */
const EXTERNAL_IDS = new Map([[EXAMPLE_TASK, 'job-42']]);
const SEEDED_ACTIONS = new Map([...SEEDS.keys()].map((id) => [id.slice(id.indexOf('/') + 1), id.slice(0, id.indexOf('/'))]));

// Kling has no cancel word: a task pinned as canceled reads as failed.
const STATUS_WORDS: Record<PhaseStatus, string> = {
  queued: 'submitted',
  in_progress: 'processing',
  succeeded: 'succeed',
  failed: 'failed',
  canceled: 'failed',
};
const FAILURE_MESSAGES = ['Failure to pass the risk control system', 'Generation timeout', 'Image quality too low'];
const DURATIONS = ['5.042', '5.1', '10.042'];

const json = JSON.stringify;

/** The action a task id belongs to: its seed's, else one of the probed actions by hash. */
function ownerAction(taskId: string): string {
  return SEEDED_ACTIONS.get(taskId) ?? pick(taskId, 'kling-action', PROBED_ACTIONS);
}

function splitId(id: string): { action: string; taskId: string } | undefined {
  const match = KLING_NATIVE_ID.exec(id);
  return match?.[1] === undefined ? undefined : { action: match[1], taskId: match[2]! };
}

function hex(text: string, purpose: string): string {
  return fnv1a(`${purpose}:${text}`).toString(16).padStart(8, '0');
}

/** A request id shaped like Kling's (a UUID), the same for the same answer. */
function requestId(seed: string): string {
  const digits = `${hex(seed, 'a')}${hex(seed, 'b')}${hex(seed, 'c')}${hex(seed, 'd')}`;
  return `${digits.slice(0, 8)}-${digits.slice(8, 12)}-4${digits.slice(13, 16)}-a${digits.slice(17, 20)}-${digits.slice(20, 32)}`;
}

function apiError(status: number, code: number, message: string): ErrorAnswer {
  return { status, body: json({ code, message, request_id: requestId(`${status}:${code}`) }) };
}

/** Kling's 401 bodies, by code (docs/providers/kling.md, "Errors"). */
const AUTH_ERRORS = {
  failed: apiError(401, 1000, 'Authentication failed'),
  empty: apiError(401, 1001, 'Authorization is empty'),
  invalid: apiError(401, 1002, 'Authorization is invalid'),
  notYetValid: apiError(401, 1003, 'Authorization is not yet valid'),
  expired: apiError(401, 1004, 'Authorization has expired'),
} as const;
const NOT_FOUND = apiError(404, 1203, 'Requested resource does not exist');
const RATE_LIMITED = apiError(429, 1302, 'API request too fast, please slow down');

/** What this simulator keeps to check tokens: the keys, and the tokens it has declared expired. */
interface TokenCheck {
  accessKey: string;
  secretKey: string;
  /** Tokens answered 1004 from now on, though their `exp` has not passed. */
  expiredTokens: Set<string>;
  /** Ids whose first call has already expired a token. */
  expiringIdsAsked: Set<string>;
}

function tokenCheck(credentials: SimCredentials): TokenCheck {
  return credentials.check as TokenCheck;
}

function bearerToken(request: SimRequest): string | undefined {
  const header = request.headers.authorization;
  return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function sameText(left: string, right: string): boolean {
  const leftBytes = Buffer.from(left);
  const rightBytes = Buffer.from(right);
  return leftBytes.length === rightBytes.length && timingSafeEqual(leftBytes, rightBytes);
}

/** The refusal Kling gives this request's token, if it refuses it. */
function checkToken(request: SimRequest, check: TokenCheck, nowSeconds: number): ErrorAnswer | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.trim() === '') return AUTH_ERRORS.empty;
  const token = bearerToken(request);
  const parts = token?.split('.') ?? [];
  if (token === undefined || parts.length !== 3) return AUTH_ERRORS.invalid;
  const [encodedHeader = '', encodedClaims = '', signature = ''] = parts;
  const jwtHeader = decodePart(encodedHeader);
  const claims = decodePart(encodedClaims);
  if (jwtHeader?.alg !== 'HS256' || jwtHeader.typ !== 'JWT' || claims === undefined) return AUTH_ERRORS.invalid;
  const { iss, exp, nbf } = claims;
  if (typeof iss !== 'string' || typeof exp !== 'number' || typeof nbf !== 'number') return AUTH_ERRORS.invalid;
  if (!sameText(iss, check.accessKey)) return AUTH_ERRORS.failed;
  if (!sameText(signature, signJwtInput(`${encodedHeader}.${encodedClaims}`, check.secretKey))) return AUTH_ERRORS.failed;
  if (nbf > nowSeconds) return AUTH_ERRORS.notYetValid;
  if (exp <= nowSeconds || check.expiredTokens.has(token)) return AUTH_ERRORS.expired;
  return undefined;
}

/** Eighteen digits drawn from `text`, the form of Kling's ids. */
function eighteenDigits(text: string, purpose: string): string {
  const high = String(fnv1a(`${purpose}-high:${text}`) % 1_000_000_000).padStart(9, '0');
  const low = String(fnv1a(`${purpose}-low:${text}`) % 100_000_000).padStart(8, '0');
  return `8${high}${low}`;
}

function videoOf(variant: KlingVariant, input: RenderInput): Record<string, unknown> {
  const video: Record<string, unknown> = {
    id: eighteenDigits(input.id, 'kling-video'),
    url: input.resultUrl,
    duration: pick(input.id, 'kling-duration', DURATIONS),
  };
  // docs/providers/kling.md, "Answers": a watermarked copy beside the clean one.
  if (variant === 'watermarked') video['watermark_url'] = `${input.baseUrl}${filePath(`${input.id}-watermark`, VIDEO_EXTENSION)}`;
  return video;
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(KLING_NAME, KLING_VARIANTS, variantName);
  const { phase, id } = input;
  const taskId = splitId(id)?.taskId ?? id;
  const failed = phase.status === 'failed' || phase.status === 'canceled';
  const data: Record<string, unknown> = {
    task_id: taskId,
    task_status: phase.providerStatus ?? STATUS_WORDS[phase.status],
    task_status_msg: failed ? pick(id, 'kling-failure', FAILURE_MESSAGES) : '',
    task_info: EXTERNAL_IDS.has(taskId) ? { external_task_id: EXTERNAL_IDS.get(taskId) } : {},
    created_at: input.createdAtMs,
    updated_at: input.completedAtMs ?? input.startedAtMs ?? input.createdAtMs,
  };
  if (phase.status === 'succeeded') data['task_result'] = { videos: [videoOf(variant, input)] };
  if (variant === 'watermarked') data['watermark_info'] = { enabled: true };
  return { code: 0, message: 'SUCCEED', request_id: requestId(`${id}:${phase.atMs}`), data };
}

const STATUS_PREFIX = '/v1/videos/';
const ACTION_AND_TASK = /^([a-z0-9][a-z0-9-]{0,39})\/([^/]+)$/;

/**
 * `action/task_id` of a status path. Its `/` may come percent-encoded too: the benchmarks'
 * direct client puts a whole id in one segment.
 */
function statusIdOf(path: string): string | undefined {
  if (!path.startsWith(STATUS_PREFIX)) return undefined;
  try {
    const match = ACTION_AND_TASK.exec(decodeURIComponent(path.slice(STATUS_PREFIX.length)));
    return match === null ? undefined : `${match[1]}/${match[2]}`;
  } catch {
    return undefined;
  }
}

/** A task id of sampleId's, in Kling's share of digit ids: never the expiring-token story by accident. */
function sampleTaskId(seed: string): string {
  for (let attempt = 0; ; attempt++) {
    const digits = eighteenDigits(attempt === 0 ? seed : `${seed}\u0000${attempt}`, 'kling-sample');
    const taskId = digits.endsWith(EXPIRING_TOKEN_SUFFIX) ? `${digits.slice(0, -1)}5` : digits;
    if (holdsShare('digits', KLING_NAME, taskId)) return taskId;
  }
}

export const profile: ProviderProfile = {
  name: KLING_NAME,
  variants: KLING_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: EXAMPLE_TASK,
      note: "Kling's example task, its action unknown: asked at text2video and image2video at once, image2video has it (done ~10 s in)",
    },
    {
      id: 'kling:text2video/743211632612511839',
      note: 'a Kling task that failed: its reason as the error message',
    },
    {
      id: `kling:text2video/86728374175911${EXPIRING_TOKEN_SUFFIX}`,
      note: "Kling calls the gateway's token expired (code 1004): it signs a new one and asks again, the client sees only the task",
    },
  ],
  taskPathPrefix: STATUS_PREFIX,
  models: ['kling-v2-1', 'kling-v2-5-turbo'],
  owns(id) {
    const ref = splitId(id);
    if (ref === undefined || ref.action !== ownerAction(ref.taskId)) return false;
    // Long digit ids are also MiniMax's, Vidu's and PixVerse's: Kling holds its share of them.
    return SEEDED_ACTIONS.has(ref.taskId) || !/^\d+$/.test(ref.taskId) || holdsShare('digits', KLING_NAME, ref.taskId);
  },
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  notFound: () => NOT_FOUND,
  unauthorized: () => AUTH_ERRORS.failed,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return AUTH_ERRORS.failed;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    if (status === 403) return apiError(403, 1103, 'No permission for the requested resource');
    if (status === 400) return apiError(400, 1200, 'Invalid request parameters');
    if (status === 503) return apiError(503, 5001, 'Server temporarily unavailable');
    if (status === 504) return apiError(504, 5002, 'Server internal timeout');
    if (status >= 500) return apiError(status, 5000, 'Server internal error');
    return apiError(status, 1200, STATUS_CODES[status] ?? 'Error');
  },
  unknownPath: () => NOT_FOUND,
  contentRoute: () => undefined,
  route(request, credentials): SimRoute | undefined {
    const id = request.method === 'GET' ? statusIdOf(request.path) : undefined;
    if (id === undefined) return undefined;
    const check = tokenCheck(credentials);
    // The expiring-token story: the token of the task's first call counts as expired from then on.
    if (id.endsWith(EXPIRING_TOKEN_SUFFIX) && !check.expiringIdsAsked.has(id)) {
      check.expiringIdsAsked.add(id);
      const token = bearerToken(request);
      if (token !== undefined) check.expiredTokens.add(token);
    }
    return { kind: 'status', id };
  },
  authorize: (request, credentials) => checkToken(request, tokenCheck(credentials), Math.floor(Date.now() / 1000)),
  credentials(values, url) {
    const check: TokenCheck = {
      accessKey: values['accessKey'] ?? '',
      secretKey: values['secretKey'] ?? '',
      expiredTokens: new Set(),
      expiringIdsAsked: new Set(),
    };
    return { ...plainCredentials(KLING_NAME, values, url), check };
  },
  clientHeaders(credentials) {
    const { accessKey, secretKey } = tokenCheck(credentials);
    return { authorization: `Bearer ${mintJwt({ accessKey, secretKey }, Math.floor(Date.now() / 1000))}` };
  },
  sampleId(seed) {
    const taskId = sampleTaskId(seed);
    return `${ownerAction(taskId)}/${taskId}`;
  },
};
