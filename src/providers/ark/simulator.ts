/**
 * ark as its clients see it: `GET /api/v3/contents/generations/tasks/{id}` with a Bearer
 * key, answered with a task in Ark's words (queued, running, succeeded with `video_url`
 * and perhaps `last_frame_url`, failed with an `error`, expired without one, cancelled),
 * Unix-second times, and Ark's `{"error": {code, message, param, type}}` envelope for its
 * HTTP errors. Videos are public files (the CDN origin when the server is given one).
 * Facts in docs/providers/ark.md.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { filePath, ownVariant, unixSeconds, type ErrorAnswer, type ProviderProfile, type RenderInput, type SeedTask } from '../../simulators/profile.js';
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { defaultOutcome, draw, pick } from '../../simulators/timeline.js';
import { ARK_ID, ARK_NAME } from './map.js';

/** Shapes of a succeeded task (its files) and of a failed one (with an error, or expired without). */
const RESULT_VARIANTS = ['video', 'last_frame'] as const;
const FAILURE_VARIANTS = ['error', 'expired'] as const;
export const ARK_VARIANTS = [...RESULT_VARIANTS, ...FAILURE_VARIANTS] as const;
type ArkVariant = (typeof ARK_VARIANTS)[number];
type FailureVariant = (typeof FAILURE_VARIANTS)[number];

export const TASKS_PREFIX = '/api/v3/contents/generations/tasks/';

/** docs/providers/ark.md's example task: running when first asked, then its video (a signed link with a UTF-8 filename in its query). */
export const EXAMPLE_ID = 'cgt-20250331175019-68d9t';
/** A task that failed on Ark's output moderation. */
export const FAILED_EXAMPLE_ID = 'cgt-20250331175402-k3x9p';
/**
 * The example's signed link on Ark's object storage, as documented (host, path and
 * signature illustrative): `response-content-disposition` names the file in UTF-8
 * (视频.mp4), percent-encoded, and must reach the storage exactly so.
 */
export const EXAMPLE_VIDEO_URL =
  'https://ark-content-generation-ap-southeast-1.tos-ap-southeast-1.bytepluses.com/seedance-1-5-pro/02174341461900000000000000000000000000000000000d0a1b2/video.mp4' +
  '?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTexample%2F20250331%2Fap-southeast-1%2Ftos%2Frequest' +
  '&X-Tos-Date=20250331T095141Z&X-Tos-Expires=86400&X-Tos-SignedHeaders=host' +
  '&response-content-disposition=attachment%3B%20filename%2A%3DUTF-8%27%27%E8%A7%86%E9%A2%91.mp4' +
  '&X-Tos-Signature=6f3b0c8e2d41a9e5b7c1f0d2a4e6b8c0d1f3a5b7c9e1f2a4b6c8d0e2f4a6b8c0';
const EXAMPLE_MODEL = 'seedance-1-5-pro-251215';
const EXAMPLE_FAILURE = { code: 'OutputVideoSensitiveContentDetected', message: 'The generated video may contain sensitive content.' } as const;

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'video',
      model: EXAMPLE_MODEL,
      resultUrl: EXAMPLE_VIDEO_URL,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 15_000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_EXAMPLE_ID,
    {
      variant: 'error',
      model: EXAMPLE_MODEL,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 6000, status: 'failed' },
      ],
    },
  ],
]);

const STATUS_WORDS: Readonly<Record<PhaseStatus, string>> = {
  queued: 'queued',
  in_progress: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'cancelled',
};
/** What a pinned failed phase may name in `providerStatus` to pick its shape. */
const EXPIRED_WORD = 'expired';

const FAILURES = [
  EXAMPLE_FAILURE,
  { code: 'InputTextSensitiveContentDetected', message: 'The request failed because the input text may contain sensitive information.' },
  { code: 'InternalServiceError', message: 'The service encountered an unexpected internal error.' },
] as const;

const json = JSON.stringify;
/** The request id Ark appends to its error messages (fixed here: one body per error). */
const REQUEST_ID = '0217434146190000000000000000000000000000000000000a1b2c';

function arkError(status: number, code: string, message: string, type: string, param = ''): ErrorAnswer {
  return { status, body: json({ error: { code, message: `${message} Request id: ${REQUEST_ID}`, param, type } }) };
}

const UNAUTHORIZED = arkError(401, 'AuthenticationError', 'The API key or AK/SK in the request is missing or invalid.', 'Unauthorized');
const NOT_FOUND = arkError(404, 'ResourceNotFound', 'The specified task is not found.', 'NotFound', 'id');
const RATE_LIMITED = arkError(429, 'RateLimitExceeded.EndpointRPMExceeded', 'The request has exceeded the rate limit of requests per minute.', 'TooManyRequests');
const HTTP_ERRORS: Readonly<Record<number, ErrorAnswer>> = {
  400: arkError(400, 'InvalidParameter', 'One or more parameters specified in the request are not valid.', 'BadRequest'),
  403: arkError(403, 'AccessDenied', 'The request failed because you do not have access to the requested resource.', 'Forbidden'),
  500: arkError(500, 'InternalServiceError', 'The service encountered an unexpected internal error.', 'InternalServerError'),
  503: arkError(503, 'ServiceUnavailable', 'The service is temporarily unable to handle the request.', 'ServiceUnavailable'),
};

/** A failing story shows one of the failure shapes, a succeeding one one of the result shapes. */
function variantFor(id: string): Variant {
  return defaultOutcome(id) === 'failed' ? pick(id, 'ark-failure', FAILURE_VARIANTS) : pick(id, 'ark-result', RESULT_VARIANTS);
}

/** A pinned failed phase names its shape with `providerStatus` (`expired`/`failed`), else its variant decides. */
function failureShape(variant: ArkVariant, phase: Phase): FailureVariant {
  if (phase.providerStatus === EXPIRED_WORD) return 'expired';
  if (phase.providerStatus !== undefined) return 'error';
  return variant === 'expired' ? 'expired' : 'error';
}

/** The request's own parameters, which Ark repeats on every answer. */
function generationFields(id: string): Record<string, unknown> {
  return {
    seed: draw(id, 'ark-seed', 2 ** 31),
    resolution: pick(id, 'ark-resolution', ['480p', '720p', '1080p']),
    ratio: pick(id, 'ark-ratio', ['16:9', '9:16', '1:1']),
    duration: pick(id, 'ark-duration', [5, 10]),
    framespersecond: 24,
    service_tier: 'default',
  };
}

/** The documented example keeps its documented fields exactly. */
const EXAMPLE_FIELDS = { seed: 58123, resolution: '720p', ratio: '16:9', duration: 5, framespersecond: 24 } as const;

function usageOf(id: string, seeded: boolean): Record<string, number> {
  const tokens = seeded ? 108_900 : 40_000 + draw(id, 'ark-tokens', 200_000);
  return { completion_tokens: tokens, total_tokens: tokens };
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(ARK_NAME, ARK_VARIANTS, variantName);
  const { phase, id } = input;
  const updatedAtMs = input.completedAtMs ?? input.startedAtMs ?? input.createdAtMs;
  const times = { created_at: unixSeconds(input.createdAtMs), updated_at: unixSeconds(updatedAtMs) };
  const word = phase.providerStatus ?? STATUS_WORDS[phase.status];
  const head = { id, model: input.model, status: word };
  // The documented bodies show no request parameters while running or after a failure.
  const fields = input.seeded ? {} : generationFields(id);
  switch (phase.status) {
    case 'queued':
    case 'in_progress':
    case 'canceled':
      return { ...head, ...fields, ...times };
    case 'succeeded': {
      const content: Record<string, string> = { video_url: input.resultUrl };
      // The last frame, when the request asked for it: a file of this simulator's own (docs/providers/ark.md, "In the simulator").
      if (variant === 'last_frame') content['last_frame_url'] = `${input.baseUrl}${filePath(id, 'jpg')}`;
      return { ...head, content, ...(input.seeded ? EXAMPLE_FIELDS : fields), usage: usageOf(id, input.seeded), ...times };
    }
    case 'failed': {
      if (failureShape(variant, phase) === 'expired') return { ...head, status: EXPIRED_WORD, ...fields, ...times };
      const error = input.seeded ? EXAMPLE_FAILURE : pick(id, 'ark-error', FAILURES);
      return { ...head, ...fields, error, ...times };
    }
  }
}

const ID_EPOCH_MS = Date.parse('2025-01-01T00:00:00Z');
const ID_SPAN_SECONDS = 4 * 365 * 24 * 3600;
const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `cgt-<YYYYMMDDhhmmss>-<5 of a-z0-9>` from a seed's hash: a creation time within 2025-2028 and a suffix. */
function arkIdFrom(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  const seconds = digest.readUInt32BE(0) % ID_SPAN_SECONDS;
  const stamp = new Date(ID_EPOCH_MS + seconds * 1000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
  let suffix = '';
  for (let index = 4; index < 9; index++) suffix += SUFFIX_ALPHABET[digest[index]! % SUFFIX_ALPHABET.length];
  return `cgt-${stamp}-${suffix}`;
}

export const profile: ProviderProfile = {
  name: ARK_NAME,
  variants: ARK_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: EXAMPLE_ID,
      note: "Ark's example Seedance task: running when first asked, succeeded 15 s later; its signed video link is handed out exactly as Ark wrote it",
    },
    { id: FAILED_EXAMPLE_ID, note: 'a Seedance task that fails on output moderation 6 s after its first poll: failed, with error.code OutputVideoSensitiveContentDetected' },
    {
      id: 'cgt-20250401090000-exp01',
      note: 'an expired task (it timed out before it ran): failed, with the code "expired"',
      script: { variant: 'expired', timeline: [{ atMs: 0, status: 'failed', providerStatus: EXPIRED_WORD }] },
    },
  ],
  taskPathPrefix: TASKS_PREFIX,
  models: [EXAMPLE_MODEL, 'seedance-1-0-pro-250528', 'seedance-1-0-lite-t2v-250428'],
  owns: (id) => ARK_ID.test(id),
  variantFor,
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNAUTHORIZED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    const known = HTTP_ERRORS[status];
    if (known !== undefined) return known;
    const name = (STATUS_CODES[status] ?? 'Error').replace(/[^A-Za-z]/g, '');
    return arkError(status, name, `${STATUS_CODES[status] ?? 'Error'}.`, name);
  },
  unknownPath: (method, path) => arkError(404, 'NotFound', `The requested path ${method} ${path} is not found.`, 'NotFound'),
  contentRoute: () => undefined,
  sampleId: arkIdFrom,
};
