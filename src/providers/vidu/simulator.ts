/**
 * Vidu as its clients see it: `GET /ent/v2/tasks/{id}/creations` with
 * `Authorization: Token <key>` (a Bearer key is refused like any other, with Vidu's 401),
 * a task `created`, `queueing`, `processing`, then `success` with its creations (a video
 * and its cover image) or `failed` with an `err_code`. It has only its share of numeric
 * ids: Kling, MiniMax and PixVerse ids have the same form, so a bare numeric id is asked
 * of each. Facts in docs/providers/vidu.md.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  filePath,
  idBetween,
  isoSeconds,
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
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, fnv1a, holdsShare, pick } from '../../simulators/timeline.js';
import { VIDU_NAME } from './map.js';

/**
 * `documented`: the answer as Vidu's reference shows it (`bgm`, `off_peak` included);
 * `relay`: a relay's copy, which adds the task `id`, `created_at` and each creation's
 * `watermarked_url` and `moderation_url`.
 */
export const VIDU_VARIANTS = ['documented', 'relay'] as const;
type ViduVariant = (typeof VIDU_VARIANTS)[number];

const TASKS_PREFIX = '/ent/v2/tasks/';
const CREATIONS_SUFFIX = '/creations';
const NUMERIC_ID = /^\d{10,19}$/;

/** The first state of a task, before `queueing` (pin it as a queued phase's `providerStatus`). */
export const CREATED = 'created';
/** The `err_code` of a task its owner stopped: Vidu has no canceled state. */
export const USER_CANCELLED = 'UserCancelled';

/** The example of docs/providers/vidu.md (processing, then its video and cover) and its failed neighbour. */
const EXAMPLE_ID = '812345678901234567';
const FAILED_ID = '812345678901234568';
const EXAMPLE_FILES = `https://files.vidu.example/infer/tasks/${EXAMPLE_ID}`;
const EXAMPLE_RESULT_URL = `${EXAMPLE_FILES}/video.mp4?auth_key=example-signed-link`;
const EXAMPLE_COVER_URL = `${EXAMPLE_FILES}/cover.jpeg?auth_key=example-signed-link`;
const EXAMPLE_FAILURE = 'CreationPolicyViolation';

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'documented',
      model: 'viduq2-pro',
      resultUrl: EXAMPLE_RESULT_URL,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 8000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_ID,
    {
      variant: 'documented',
      model: 'viduq2-pro',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 5000, status: 'failed' },
      ],
    },
  ],
]);
/** The seeds' own cover links, beside their documented video. */
const SEED_COVERS: ReadonlyMap<string, string> = new Map([[EXAMPLE_ID, EXAMPLE_COVER_URL]]);

/** Vidu's answer names no model; these only vary the simulator's plans. */
const MODELS = ['viduq2-pro', 'viduq2-turbo', 'viduq1', 'vidu2.0'] as const;

/** Why a default story fails (the codes of Vidu's list a running task can end with). */
export const FAILURE_CODES = [
  'CreationPolicyViolation',
  'AuditSubmitIllegal',
  'ImageDownloadFailure',
  'ModelUnavailable',
  'CreditInsufficient',
  'InternalServiceFailure',
] as const;

// Vidu has no cancel word: a task pinned as canceled is `failed` with UserCancelled.
const STATUS_WORDS: Readonly<Record<PhaseStatus, string>> = {
  queued: 'queueing',
  in_progress: 'processing',
  succeeded: 'success',
  failed: 'failed',
  canceled: 'failed',
};

const json = JSON.stringify;

/** Vidu's error bodies: its error code as `reason`, with the HTTP status and its short message. */
function apiError(status: number, reason: string, message: string): ErrorAnswer {
  return { status, body: json({ code: status, reason, message, metadata: {} }) };
}

const UNAUTHORIZED = apiError(401, 'Unauthorized', 'unauthorized');
const TASK_NOT_FOUND = apiError(404, 'TaskNotFound', 'task not found');
const PATH_NOT_FOUND = apiError(404, 'NotFound', 'not found');
const TOO_MANY_REQUESTS = apiError(429, 'TooManyRequests', 'too many requests');
const ERRORS_BY_STATUS: ReadonlyMap<number, ErrorAnswer> = new Map([
  [400, apiError(400, 'BadRequest', 'bad request')],
  [401, UNAUTHORIZED],
  [403, apiError(403, 'Forbidden', 'forbidden')],
  [404, TASK_NOT_FOUND],
  [409, apiError(409, 'Conflict', 'resource conflict')],
  [429, TOO_MANY_REQUESTS],
  [499, apiError(499, 'Canceled', 'request canceled by client')],
  [500, apiError(500, 'InternalServiceFailure', 'internal service failure')],
]);

/** An error answer for any status, in Vidu's shape (a status of its list with its own words). */
function errorStatus(status: number): ErrorAnswer {
  const known = ERRORS_BY_STATUS.get(status);
  if (known !== undefined) return known;
  const phrase = STATUS_CODES[status] ?? 'Error';
  return apiError(status, phrase.replace(/[^A-Za-z]/g, ''), phrase.toLowerCase());
}

/** Exactly `Token <key>`: another scheme (Bearer included), case or spacing is a 401. */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const key = credentials.values['apiKey'] ?? '';
  return key !== '' && request.headers.authorization === `Token ${key}` ? undefined : UNAUTHORIZED;
}

function decoded(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** The status call is `GET /ent/v2/tasks/{id}/creations`; anything else is Vidu's 404. */
function route(request: SimRequest): SimRoute | undefined {
  const encoded = idBetween(request.path, TASKS_PREFIX, CREATIONS_SUFFIX);
  if (request.method !== 'GET' || encoded === undefined) return undefined;
  const id = decoded(encoded);
  return id === undefined ? { kind: 'answer', answer: TASK_NOT_FOUND } : { kind: 'status', id };
}

/** Its seeds and its share of 10-19 digit ids: Kling, MiniMax and PixVerse hold the rest. */
function owns(id: string): boolean {
  return NUMERIC_ID.test(id) && (SEEDS.has(id) || holdsShare('digits', VIDU_NAME, id));
}

/** A default story says `created` before `queueing`, as Vidu's tasks do. */
function decorateTimeline(_variant: Variant, timeline: Phase[]): Phase[] {
  const [first, next, ...rest] = timeline;
  if (first?.status !== 'queued' || next === undefined) return timeline;
  return [{ ...first, providerStatus: CREATED }, { atMs: Math.round(next.atMs / 2), status: 'queued' }, next, ...rest];
}

/** A creation's id: digits made from the task's id, the same for the same task. */
function creationId(id: string): string {
  return `${fnv1a(`vidu-creation-high:${id}`)}${fnv1a(`vidu-creation-low:${id}`)}`.padEnd(18, '0').slice(0, 18);
}

/**
 * The cover: a seed's own link beside its documented video; otherwise this simulator's own
 * `/files/{id}.jpg` (public, but on the provider's origin, so the gateway serves it through
 * `/content`).
 */
function coverUrl(input: RenderInput): string {
  const seedCover = SEED_COVERS.get(input.id);
  if (seedCover !== undefined && input.resultUrl === SEEDS.get(input.id)?.resultUrl) return seedCover;
  return `${input.baseUrl}${filePath(input.id, 'jpg')}`;
}

function errCodeOf(input: RenderInput): string {
  const { phase, id } = input;
  if (phase.status === 'canceled') return USER_CANCELLED;
  if (phase.status !== 'failed') return '';
  return input.seeded ? EXAMPLE_FAILURE : pick(id, 'vidu-failure', FAILURE_CODES);
}

function creationsOf(variant: ViduVariant, input: RenderInput): Array<Record<string, unknown>> {
  if (input.phase.status !== 'succeeded') return [];
  const creation: Record<string, unknown> = { id: creationId(input.id), url: input.resultUrl, cover_url: coverUrl(input) };
  if (variant === 'relay') {
    creation['watermarked_url'] = `${input.baseUrl}${filePath(`${input.id}-watermarked`, VIDEO_EXTENSION)}`;
    creation['moderation_url'] = [];
  }
  return [creation];
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(VIDU_NAME, VIDU_VARIANTS, variantName);
  const { phase, id } = input;
  const succeeded = phase.status === 'succeeded';
  const task = {
    state: phase.providerStatus ?? STATUS_WORDS[phase.status],
    err_code: errCodeOf(input),
    // Credits are charged for a result only.
    credits: succeeded ? (input.seeded ? 4 : 4 + 2 * draw(id, 'vidu-credits', 5)) : 0,
    payload: '',
  };
  if (variant === 'relay') return { id, ...task, created_at: isoSeconds(input.createdAtMs), creations: creationsOf(variant, input) };
  // The seeds keep the example's exact fields; other tasks say what the current reference adds.
  if (input.seeded) return { ...task, creations: creationsOf(variant, input) };
  return { ...task, bgm: false, off_peak: draw(id, 'vidu-off-peak', 4) === 0, creations: creationsOf(variant, input) };
}

/** 18 digits (a leading 8) from a hash of the attempt and the seed; the attempt's digits end at the first NUL, so no two pairs hash alike. */
function digitsFrom(seed: string, attempt: number): string {
  const hash = BigInt(`0x${createHash('sha256').update(`${attempt}\u0000${seed}`).digest('hex').slice(0, 30)}`);
  return `8${(hash % 10n ** 17n).toString().padStart(17, '0')}`;
}

/** The first id made from `seed` that this simulator has and that tells no seed's story. */
function taskIdFrom(seed: string): string {
  for (let attempt = 0; ; attempt++) {
    const id = digitsFrom(seed, attempt);
    if (owns(id) && !SEEDS.has(id)) return id;
  }
}

export const profile: ProviderProfile = {
  name: VIDU_NAME,
  variants: VIDU_VARIANTS,
  seeds: SEEDS,
  // Qualified: a bare numeric id is asked of every provider with numeric ids.
  demo: [
    {
      id: `vidu:${EXAMPLE_ID}`,
      note: "Vidu's documented example: processing when first asked, success 8 s later with its video and its cover image (a second output)",
    },
    {
      id: `vidu:${FAILED_ID}`,
      note: 'a task that runs, then fails at 5 s: its err_code (CreationPolicyViolation) is the error code, with a sentence for it',
    },
    {
      id: 'vidu:812345678901230003',
      note: 'a task its owner stopped: created, then failed with UserCancelled (Vidu has no canceled state)',
      script: {
        variant: 'relay',
        timeline: [
          { atMs: 0, status: 'queued', providerStatus: CREATED },
          { atMs: 3000, status: 'canceled' },
        ],
      },
    },
  ],
  // The status call's path up to the id (it goes on with `/creations`).
  taskPathPrefix: TASKS_PREFIX,
  models: MODELS,
  owns,
  decorateTimeline,
  render,
  route,
  authorize,
  clientHeaders: (credentials) => ({ authorization: `Token ${credentials.values['apiKey'] ?? ''}` }),
  notFound: () => TASK_NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => TOO_MANY_REQUESTS,
  errorStatus,
  unknownPath: () => PATH_NOT_FOUND,
  contentRoute: () => undefined,
  sampleId: taskIdFrom,
};
