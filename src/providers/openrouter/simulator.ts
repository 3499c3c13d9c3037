/**
 * openrouter as its clients see it: `GET /api/v1/videos/{id}` with `Authorization: Bearer
 * <key>`, answered with a job `pending`, `in_progress`, then `completed` with one or two
 * `unsigned_urls`, `failed` with an `error` (a string, or an object), `expired` without
 * one, or `cancelled`; OpenRouter's `{"error": {code, message}}` envelope for its HTTP
 * errors. The files are `GET /api/v1/videos/{id}/content?index=N` on this origin, key
 * required. Facts in docs/providers/openrouter.md.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { CommittedAssetName } from '../../simulators/media/assets.js';
import {
  idBetween,
  ownVariant,
  type ContentRoute,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
  type SimCredentials,
  type SimRequest,
} from '../../simulators/profile.js';
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { defaultOutcome, pick } from '../../simulators/timeline.js';
import { openrouter } from './index.js';
import { EXPIRED_WORD, OPENROUTER_NAME } from './map.js';

/** Shapes of a completed job (how many files) and of a failed one (its error as a string or an object, or expired without one). */
const RESULT_VARIANTS = ['one_url', 'two_urls'] as const;
const FAILURE_VARIANTS = ['error_string', 'error_object', 'expired'] as const;
export const OPENROUTER_VARIANTS = [...RESULT_VARIANTS, ...FAILURE_VARIANTS] as const;
type OpenRouterVariant = (typeof OPENROUTER_VARIANTS)[number];

const VIDEOS_PREFIX = '/api/v1/videos/';
const CONTENT_SUFFIX = '/content';
const NATIVE_ID = openrouter.nativeIds.pattern;

/** OpenRouter's documented example job, completed with its one video; and a failed one. */
export const EXAMPLE_ID = 'job-abc123';
export const FAILED_EXAMPLE_ID = 'job-fail001';
const EXAMPLE_GENERATION_ID = 'gen-xyz789';
const EXAMPLE_COST = 0.5;
const EXAMPLE_FAILURE = 'The video provider rejected the request: the prompt was flagged by its content policy.';

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'one_url',
      model: 'google/veo-3.1',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 5000, status: 'in_progress' },
        { atMs: 20_000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_EXAMPLE_ID,
    {
      variant: 'error_string',
      model: 'bytedance/seedance-2.0',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 8000, status: 'failed' },
      ],
    },
  ],
]);

/** OpenRouter's job body names no model; these only vary the simulator's plans. */
const MODELS = ['google/veo-3.1', 'bytedance/seedance-2.0', 'alibaba/wan-2.6', 'openai/sora-2-pro'] as const;

const STATUS_WORDS: Readonly<Record<PhaseStatus, string>> = {
  queued: 'pending',
  in_progress: 'in_progress',
  succeeded: 'completed',
  failed: 'failed',
  canceled: 'cancelled',
};

/** Failures as a sentence (OpenRouter's documented `error`), the simulator's own wording. */
const FAILURE_MESSAGES = [
  EXAMPLE_FAILURE,
  'The video provider failed to generate the video. Please try again.',
  'The input image could not be fetched.',
] as const;
/** Failures as an object, the shape a relay or a later API version may send (codes illustrative). */
const FAILURE_OBJECTS = [
  { code: 'content_policy_violation', message: 'The generated video was blocked by the provider\'s safety system.' },
  { code: 'provider_error', message: 'The upstream video provider returned an error.' },
] as const;
const COSTS = [0.05, 0.25, 0.5, 1.2, 3.2] as const;

/** `?index=N` of the content route → the committed file served for it (two files at most). */
const CONTENT_ASSETS: readonly CommittedAssetName[] = ['sample.webm', 'sample.mp4'];

const json = JSON.stringify;

/** OpenRouter's error envelope: `code` is the HTTP status itself. */
function apiError(status: number, message: string): ErrorAnswer {
  return { status, body: json({ error: { code: status, message } }) };
}

const NO_CREDENTIALS = apiError(401, 'No auth credentials found');
const UNKNOWN_KEY = apiError(401, 'User not found.');
const NOT_FOUND = apiError(404, 'Video generation job not found');
const CONTENT_NOT_FOUND = apiError(404, 'Video content not found at this index');
const INVALID_INDEX = apiError(400, 'index must be a non-negative integer');
const RATE_LIMITED = apiError(429, 'Rate limit exceeded. Please slow down.');

/** OpenRouter's Bearer check: no header at all and a key it does not know are two different 401s. */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header === '') return NO_CREDENTIALS;
  const key = credentials.values['apiKey'] ?? '';
  return key !== '' && header === `Bearer ${key}` ? undefined : UNKNOWN_KEY;
}

/** `/api/v1/videos/{id}/content?index=N`: the N-th file (index 0 by default). */
function contentRoute(path: string, query: URLSearchParams): ContentRoute | undefined {
  const encodedId = idBetween(path, VIDEOS_PREFIX, CONTENT_SUFFIX);
  if (encodedId === undefined) return undefined;
  const index = query.get('index') ?? '0';
  if (!/^\d{1,9}$/.test(index)) return { error: INVALID_INDEX };
  const asset = CONTENT_ASSETS[Number(index)];
  return asset === undefined ? { error: CONTENT_NOT_FOUND } : { encodedId, asset };
}

/** A failing story shows one of the failure shapes, a succeeding one one of the result shapes. */
function variantFor(id: string): Variant {
  return defaultOutcome(id) === 'failed' ? pick(id, 'openrouter-failure', FAILURE_VARIANTS) : pick(id, 'openrouter-result', RESULT_VARIANTS);
}

/** A pinned failed phase names its shape with `providerStatus` (`expired`), else its variant decides. */
function isExpired(variant: OpenRouterVariant, phase: Phase): boolean {
  if (phase.providerStatus !== undefined) return phase.providerStatus === EXPIRED_WORD;
  return variant === 'expired';
}

function contentUrl(input: RenderInput, index: number): string {
  return `${input.baseUrl}${VIDEOS_PREFIX}${encodeURIComponent(input.id)}${CONTENT_SUFFIX}?index=${index}`;
}

/** OpenRouter's generation record of a processed job (`gen-` + its time and a hash here). */
function generationId(input: RenderInput): string {
  if (input.seeded && input.id === EXAMPLE_ID) return EXAMPLE_GENERATION_ID;
  const digest = createHash('sha256').update(`openrouter-generation:${input.id}`).digest('base64url').replace(/[-_]/g, '').slice(0, 20);
  return `gen-${Math.floor(input.createdAtMs / 1000)}-${digest}`;
}

function failureError(variant: OpenRouterVariant, input: RenderInput): unknown {
  if (input.seeded) return EXAMPLE_FAILURE;
  return variant === 'error_object' ? pick(input.id, 'openrouter-error-object', FAILURE_OBJECTS) : pick(input.id, 'openrouter-error', FAILURE_MESSAGES);
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(OPENROUTER_NAME, OPENROUTER_VARIANTS, variantName);
  const { phase, id } = input;
  const head = {
    id,
    // Relative, as OpenRouter writes it.
    polling_url: `${VIDEOS_PREFIX}${encodeURIComponent(id)}`,
    status: phase.providerStatus ?? STATUS_WORDS[phase.status],
  };
  switch (phase.status) {
    case 'queued':
    case 'in_progress':
    case 'canceled':
      return head;
    case 'succeeded': {
      const urls = [contentUrl(input, 0)];
      if (variant === 'two_urls') urls.push(contentUrl(input, 1));
      const cost = input.seeded ? EXAMPLE_COST : pick(id, 'openrouter-cost', COSTS);
      return { ...head, generation_id: generationId(input), unsigned_urls: urls, usage: { cost, is_byok: false } };
    }
    case 'failed':
      if (isExpired(variant, phase)) return { ...head, status: EXPIRED_WORD };
      return { ...head, generation_id: generationId(input), error: failureError(variant, input) };
  }
}

const SAFE_CHARACTER = /[A-Za-z0-9.-]/;
const MAX_ID_LENGTH = 512;

/**
 * `job-` and the seed, readable (so that a seed saying `fail` tells the story it names):
 * letters, digits, `.` and `-` kept, every other UTF-8 byte `_` + two hex digits (so one
 * seed, one id). A seed too long for that is its SHA-256 instead.
 */
function jobIdFrom(seed: string): string {
  let id = 'job-';
  for (const byte of Buffer.from(seed, 'utf8')) {
    const character = String.fromCharCode(byte);
    id += byte < 0x80 && SAFE_CHARACTER.test(character) ? character : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return id.length <= MAX_ID_LENGTH ? id : `job-_${createHash('sha256').update(seed).digest('hex')}`;
}

export const profile: ProviderProfile = {
  name: OPENROUTER_NAME,
  variants: OPENROUTER_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: `${OPENROUTER_NAME}:${EXAMPLE_ID}`,
      note: "OpenRouter's example job (always qualified): pending, in_progress from 5 s, completed at 20 s; its video, on OpenRouter's origin behind the key, through the gateway's /content",
    },
    {
      id: `${OPENROUTER_NAME}:job-demo-two-videos`,
      note: 'a completed job with two unsigned_urls: two video outputs, each a gateway URL',
      script: { variant: 'two_urls', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
    {
      id: `${OPENROUTER_NAME}:job-demo-expired`,
      note: 'an expired job: failed (task_failed), its message saying it expired',
      script: { variant: 'expired', timeline: [{ atMs: 0, status: 'failed', providerStatus: EXPIRED_WORD }] },
    },
  ],
  taskPathPrefix: VIDEOS_PREFIX,
  models: MODELS,
  owns: (id) => NATIVE_ID.test(id),
  variantFor,
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  authorize,
  notFound: () => NOT_FOUND,
  unauthorized: () => UNKNOWN_KEY,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNKNOWN_KEY;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return apiError(status, STATUS_CODES[status] ?? 'Error');
  },
  unknownPath: () => apiError(404, 'Not Found'),
  contentRoute,
  sampleId: jobIdFrom,
};
