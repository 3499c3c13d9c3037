/**
 * PixVerse as its clients see it: `GET /openapi/v2/video/result/{id}` with `API-KEY` and
 * an `Ai-trace-id` that must be a UUID never sent before (this simulator refuses a
 * repeated one with an API error; PixVerse itself answers it with its earlier answer),
 * every answer an `{ErrCode, ErrMsg, Resp}` envelope: a video `5` with `url: ""`, then `1`
 * with its url, or `7` (moderation) or `8` (failed); a rate limit and an unknown video as
 * API errors inside an HTTP 200. Facts in docs/providers/pixverse.md.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { plainCredentials } from '../../simulators/credentials.js';
import {
  isoSeconds,
  ownVariant,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
  type SimCredentials,
  type SimRequest,
  type SimRoute,
} from '../../simulators/profile.js';
import type { PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, fnv1a, holdsShare, pick } from '../../simulators/timeline.js';
import { CONCURRENCY_LIMIT, DATA_NOT_FOUND, GENERATING, GENERATION_FAILED, INVALID_ACCOUNT, MODERATION_FAILED, PIXVERSE_NAME, SUCCEEDED } from './map.js';

/**
 * `documented`: `Resp` with every field of PixVerse's status page (times, prompt, size…);
 * `brief`: only `id`, `status` and `url`, and the video's size and seed once done, as in
 * the examples PixVerse's guides show.
 */
export const PIXVERSE_VARIANTS = ['documented', 'brief'] as const;
type PixverseVariant = (typeof PIXVERSE_VARIANTS)[number];

const RESULT_PREFIX = '/openapi/v2/video/result/';

/**
 * How a bad trace id is answered is not documented; these are illustrative: 400017 is the
 * table's "Invalid parameter", 400099 is in no table.
 */
export const TRACE_ID_INVALID = 400017;
export const TRACE_ID_REUSED = 400099;
const UNKNOWN_ERROR = 99999;

/** Trace ids remembered per simulator; the oldest are forgotten past this (a long benchmark's memory). */
export const REMEMBERED_TRACE_IDS = 100_000;

const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** The video of PixVerse's example, its moderated twin, and where the example's file is (path made up). */
const EXAMPLE_ID = '315468294118400';
const MODERATED_ID = '315468294118407';
const EXAMPLE_RESULT_URL = `https://media.pixverse.ai/openapi/output/${EXAMPLE_ID}/video.mp4`;
const EXAMPLE_DONE = { outputWidth: 1280, outputHeight: 720, seed: 1234 };

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'brief',
      model: 'v4.5',
      resultUrl: EXAMPLE_RESULT_URL,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 8000, status: 'succeeded' },
      ],
    },
  ],
  [
    MODERATED_ID,
    {
      variant: 'brief',
      model: 'v4.5',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 5000, status: 'failed', providerStatus: String(MODERATION_FAILED) },
      ],
    },
  ],
]);

const MODELS = ['v4.5', 'v5', 'v6', 'c1'] as const;
const PROMPTS = ['A red fox running through fresh snow at dawn', 'Waves rolling onto a black sand beach, slow motion', 'A paper boat drifting down a rainy street'];
const SIZES = [
  [1280, 720, 720],
  [960, 540, 540],
  [1920, 1080, 1080],
  [720, 1280, 720],
] as const;

/** PixVerse has no queued state (a waiting video is 5 too) and no cancel (a canceled story reads as failed). */
function statusOf(phaseStatus: PhaseStatus, id: string): number {
  if (phaseStatus === 'succeeded') return SUCCEEDED;
  if (phaseStatus === 'failed') return pick(id, 'pixverse-failure', [MODERATION_FAILED, GENERATION_FAILED]);
  if (phaseStatus === 'canceled') return GENERATION_FAILED;
  return GENERATING;
}

const json = JSON.stringify;

function envelopeBody(code: number, message: string, resp: unknown = null): Record<string, unknown> {
  return { ErrCode: code, ErrMsg: message, Resp: resp };
}

function envelope(status: number, code: number, message: string): ErrorAnswer {
  return { status, body: json(envelopeBody(code, message)) };
}

const INVALID_KEY = envelope(401, INVALID_ACCOUNT, 'Invalid API-KEY');
const TRACE_ID_MISSING = envelope(400, TRACE_ID_INVALID, 'Invalid parameter: Ai-trace-id must be a UUID');
const TRACE_ID_REPEATED = envelope(200, TRACE_ID_REUSED, 'Ai-trace-id has already been used: send a new one with every request');
/** The answer for a video this account does not have: an HTTP 200 (the code is in PixVerse's table, its use here inferred). */
const NOT_FOUND = envelope(200, DATA_NOT_FOUND, 'Requested data not found');
export const RATE_LIMITED_BODY = envelopeBody(CONCURRENCY_LIMIT, 'Reached the limit for concurrent generations.');
const RATE_LIMITED: ErrorAnswer = { status: 200, body: json(RATE_LIMITED_BODY) };
const INVALID_BINDING = envelope(200, 400013, 'Invalid binding request: incorrect parameter type or value');
const UNKNOWN_PATH = envelope(404, UNKNOWN_ERROR, '404 page not found');

/** The trace ids this simulator has been sent, oldest first: PixVerse wants a new one every call. */
class TraceIds {
  private readonly seen = new Set<string>();

  /** True the first time `traceId` (in any case) comes; false after. */
  firstUse(traceId: string): boolean {
    const key = traceId.toLowerCase();
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > REMEMBERED_TRACE_IDS) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}

function traceIdsOf(credentials: SimCredentials): TraceIds {
  if (!(credentials.check instanceof TraceIds)) throw new Error('the pixverse simulator was given credentials it did not make');
  return credentials.check;
}

function headerOf(request: SimRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The key first (its 401), then a trace id that is a UUID (a 400) and new (an API error in an HTTP 200). */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const key = credentials.values['apiKey'] ?? '';
  if (key === '' || headerOf(request, 'api-key') !== key) return INVALID_KEY;
  const traceId = headerOf(request, 'ai-trace-id');
  if (traceId === undefined || !UUID.test(traceId)) return TRACE_ID_MISSING;
  return traceIdsOf(credentials).firstUse(traceId) ? undefined : TRACE_ID_REPEATED;
}

/** The status call; a video id that is not an integer is PixVerse's binding error (after the credentials). */
function route(request: SimRequest): SimRoute | undefined {
  if (request.method !== 'GET' || !request.path.startsWith(RESULT_PREFIX)) return undefined;
  const id = request.path.slice(RESULT_PREFIX.length);
  if (id === '' || id.includes('/')) return undefined;
  return /^\d{1,19}$/.test(id) ? { kind: 'status', id } : { kind: 'answer', answer: INVALID_BINDING };
}

/**
 * Its seeds, and its share of the ids of 15 or 16 digits that a JavaScript number holds
 * exactly (PixVerse's are 15 digits today): Kling, MiniMax and Vidu hold the rest.
 */
function owns(id: string): boolean {
  return SEEDS.has(id) || (/^\d{15,16}$/.test(id) && Number.isSafeInteger(Number(id)) && holdsShare('digits', PIXVERSE_NAME, id));
}

/** 15 digits, a 3 first, from two independent hashes of the seed and the attempt. */
function digitsFrom(seed: string, attempt: number): string {
  const text = attempt === 0 ? seed : `${seed}\u0000${attempt}`;
  const wide = (BigInt(fnv1a(`pixverse-high:${text}`)) << 32n) | BigInt(fnv1a(`pixverse-low:${text}`));
  return `3${(wide % 10n ** 14n).toString().padStart(14, '0')}`;
}

/** The first id made from `seed` that this simulator has and that tells no seed's story. */
function videoIdFrom(seed: string): string {
  for (let attempt = 0; ; attempt++) {
    const id = digitsFrom(seed, attempt);
    if (owns(id) && !SEEDS.has(id)) return id;
  }
}

/** The id as the JSON integer PixVerse sends (owned ids are safe integers; a pinned larger one stays text). */
function idValue(id: string): number | string {
  return Number.isSafeInteger(Number(id)) ? Number(id) : id;
}

function statusValue(input: RenderInput): number | string {
  const word = input.phase.providerStatus;
  if (word === undefined) return statusOf(input.phase.status, input.id);
  return /^\d+$/.test(word) ? Number(word) : word;
}

function documentedResp(input: RenderInput, status: number | string, url: string): Record<string, unknown> {
  const { id } = input;
  const done = status === SUCCEEDED;
  const [width, height, resolution] = pick(id, 'pixverse-size', SIZES);
  return {
    create_time: isoSeconds(input.createdAtMs),
    id: idValue(id),
    modify_time: isoSeconds(input.completedAtMs ?? input.startedAtMs ?? input.createdAtMs),
    negative_prompt: '',
    outputHeight: done ? height : 0,
    outputWidth: done ? width : 0,
    prompt: pick(id, 'pixverse-prompt', PROMPTS),
    resolution_ratio: resolution,
    seed: draw(id, 'pixverse-seed', 2_147_483_647),
    size: done ? 400_000 + draw(id, 'pixverse-bytes', 3_000_000) : 0,
    status,
    style: '',
    url,
  };
}

function briefResp(input: RenderInput, status: number | string, url: string): Record<string, unknown> {
  const resp: Record<string, unknown> = { id: idValue(input.id), status, url };
  if (status !== SUCCEEDED) return resp;
  if (input.seeded) return { ...resp, ...EXAMPLE_DONE };
  const [width, height] = pick(input.id, 'pixverse-size', SIZES);
  return { ...resp, outputWidth: width, outputHeight: height, seed: draw(input.id, 'pixverse-seed', 2_147_483_647) };
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant: PixverseVariant = ownVariant(PIXVERSE_NAME, PIXVERSE_VARIANTS, variantName);
  const status = statusValue(input);
  // The url is empty until the video is done.
  const url = status === SUCCEEDED ? input.resultUrl : '';
  const resp = variant === 'documented' ? documentedResp(input, status, url) : briefResp(input, status, url);
  return envelopeBody(0, 'success', resp);
}

export const profile: ProviderProfile = {
  name: PIXVERSE_NAME,
  variants: PIXVERSE_VARIANTS,
  seeds: SEEDS,
  // Qualified: a bare numeric id is asked of every provider with numeric ids, Kling first.
  demo: [
    {
      id: `pixverse:${EXAMPLE_ID}`,
      note: "PixVerse's example video: status 5 (url empty) when first asked, 1 with its video 8 s later",
    },
    {
      id: `pixverse:${MODERATED_ID}`,
      note: 'a video stopped by moderation: status 7, failed with error code content_moderation',
    },
    {
      id: 'pixverse:315468294150044',
      note: 'a rate-limited poll (HTTP 200, ErrCode 500044, the concurrency limit): a 503 upstream_rate_limited, never a failed task',
      script: { raw: { status: 200, body: RATE_LIMITED_BODY } },
    },
  ],
  taskPathPrefix: RESULT_PREFIX,
  models: MODELS,
  owns,
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  route,
  authorize,
  credentials: (values, url) => ({ ...plainCredentials(PIXVERSE_NAME, values, url), check: new TraceIds() }),
  // A new trace id at every read: a direct client must not send one twice.
  clientHeaders: (credentials) => ({ 'api-key': credentials.values['apiKey'] ?? '', 'ai-trace-id': randomUUID() }),
  notFound: () => NOT_FOUND,
  unauthorized: () => INVALID_KEY,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401 || status === 403) return { ...INVALID_KEY, status };
    if (status === 404) return { ...NOT_FOUND, status };
    if (status === 429) return { ...RATE_LIMITED, status };
    return envelope(status, UNKNOWN_ERROR, (STATUS_CODES[status] ?? 'Unknown error').toLowerCase());
  },
  unknownPath: () => UNKNOWN_PATH,
  contentRoute: () => undefined,
  sampleId: videoIdFrom,
};
