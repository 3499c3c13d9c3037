/**
 * Runway as its clients see it: `GET /v1/tasks/{id}` with `Authorization: Bearer <key>`
 * and `X-Runway-Version: 2024-11-06` (a missing or other version is a 400), Runway's
 * `{"error": …}` bodies; a task `PENDING` (or first `THROTTLED`, over the organization's
 * concurrency), `RUNNING` with a fractional `progress`, then `SUCCEEDED` with its `output`
 * list (a video, or an image for a text-to-image task), `FAILED` with `failure` and
 * `failureCode`, or `CANCELLED`. It has only some UUIDs (by hash), as each of the
 * providers that share the UUID form has only its own. Facts in docs/providers/runway.md.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  filePath,
  ownVariant,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
  type SimCredentials,
  type SimRequest,
} from '../../simulators/profile.js';
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, holdsShare, pick } from '../../simulators/timeline.js';
import { RUNWAY_API_VERSION, RUNWAY_NAME, TASK_ID } from './map.js';

/** What a succeeded task made: `video` (its result URL), `image` (a text-to-image task: this simulator's own JPEG). */
export const RUNWAY_VARIANTS = ['video', 'image'] as const;

/** The word of a queued phase held back by the organization's concurrency limit (pin it as `providerStatus`). */
export const THROTTLED = 'THROTTLED';

const TASKS_PREFIX = '/v1/tasks/';

/** The example task of docs/providers/runway.md (running at 0.42, then its video), and its failed example. */
const EXAMPLE_ID = '63fd0f13-f29d-4e58-99d3-1cb9efa14a5b';
const FAILED_ID = '9b2e7c41-5d3a-4f8e-b6c2-0a7d1e4f3c85';
/** The example's file on Runway's CDN (its path made up). */
const EXAMPLE_RESULT_URL = 'https://dnznrvs05pmza.cloudfront.net/7d1c2e9a-4b3f-4a8e-9c21-5e6f7a8b9c0d/video.mp4?_jwt=example-signed-link';
const EXAMPLE_FAILURE = { failure: 'Your prompt was flagged by our content moderation.', failureCode: 'SAFETY.INPUT.TEXT' };

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'video',
      model: 'gen4_turbo',
      resultUrl: EXAMPLE_RESULT_URL,
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 5000, status: 'in_progress', progress: 42 },
        { atMs: 25_000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_ID,
    {
      variant: 'video',
      model: 'gen4_turbo',
      timeline: [
        { atMs: 0, status: 'in_progress', progress: 10 },
        { atMs: 6000, status: 'failed' },
      ],
    },
  ],
]);

/** Runway's task body names no model; these only vary the simulator's plans. */
const MODELS = ['gen4_turbo', 'gen4.5', 'veo3.1_fast', 'gen4_image'] as const;

/** Failures as Runway words them (codes dot-separated, most generic first); one with no code at all. */
const FAILURES: ReadonlyArray<{ failure: string; failureCode?: string }> = [
  EXAMPLE_FAILURE,
  { failure: 'The input image was flagged by our content moderation.', failureCode: 'SAFETY.INPUT.IMAGE' },
  { failure: 'The generated video was flagged by our content moderation.', failureCode: 'SAFETY.OUTPUT.VIDEO' },
  { failure: 'An unexpected error occurred while generating the video.', failureCode: 'INTERNAL.BAD_OUTPUT' },
  { failure: 'An unexpected error occurred.' },
];

const STATUS_WORDS: Readonly<Record<PhaseStatus, string>> = {
  queued: 'PENDING',
  in_progress: 'RUNNING',
  succeeded: 'SUCCEEDED',
  failed: 'FAILED',
  canceled: 'CANCELLED',
};

const json = JSON.stringify;
const errorAnswer = (status: number, error: string): ErrorAnswer => ({ status, body: json({ error }) });
const NOT_FOUND = errorAnswer(404, 'Task not found');
const UNAUTHORIZED = errorAnswer(401, 'Invalid API key');
const VERSION_MISSING = errorAnswer(400, 'The X-Runway-Version header is required.');
const VERSION_INVALID = errorAnswer(400, `Invalid X-Runway-Version header. Supported versions: ${RUNWAY_API_VERSION}`);
const RATE_LIMITED = errorAnswer(429, 'You have reached the daily task limit of your organization.');
const METHOD_NOT_ALLOWED = errorAnswer(405, 'Method not allowed');

/** The key as a Bearer token first (a 401 otherwise), then the API version (Runway's 400). */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const key = credentials.values['apiKey'] ?? '';
  if (key === '' || request.headers.authorization !== `Bearer ${key}`) return UNAUTHORIZED;
  const version = request.headers['x-runway-version'];
  if (version === undefined || version === '') return VERSION_MISSING;
  return version === RUNWAY_API_VERSION ? undefined : VERSION_INVALID;
}

/**
 * The seeds and Runway's share of all UUIDs: Luma and DashScope ids have the same form, and
 * a bare UUID is asked of every provider that may have it, so each simulator holds a share.
 */
function owns(id: string): boolean {
  return TASK_ID.test(id) && (SEEDS.has(id) || holdsShare('uuid', RUNWAY_NAME, id));
}

/**
 * Some default stories wait over the organization's concurrency limit first: THROTTLED
 * for the first half of their queued time, then PENDING.
 */
function decorateTimeline(_variant: Variant, timeline: Phase[], id: string): Phase[] {
  const [first, next, ...rest] = timeline;
  if (draw(id, 'runway-throttled', 3) !== 0 || first?.status !== 'queued' || next === undefined) return timeline;
  return [{ ...first, providerStatus: THROTTLED }, { atMs: Math.round(next.atMs / 2), status: 'queued' }, next, ...rest];
}

/** Runway's file links carry a signed `_jwt` query; the simulator's own files get a stand-in one. */
function signedLink(url: string, input: RenderInput): string {
  if (!url.startsWith(`${input.baseUrl}/`) || url.includes('?')) return url;
  const token = createHash('sha256').update(`runway-link:${input.id}`).digest('base64url').slice(0, 43);
  return `${url}?_jwt=${token}`;
}

function outputOf(variant: (typeof RUNWAY_VARIANTS)[number], input: RenderInput): string[] {
  if (variant === 'image') return [signedLink(`${input.baseUrl}${filePath(input.id, 'jpg')}`, input)];
  return [signedLink(input.resultUrl, input)];
}

/** Progress as Runway sends it: a fraction of one, four decimals at most. */
function fraction(percent: number | undefined): number {
  return Math.round((percent ?? 0) * 100) / 10_000;
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(RUNWAY_NAME, RUNWAY_VARIANTS, variantName);
  const { phase, id } = input;
  const body: Record<string, unknown> = {
    id,
    status: phase.providerStatus ?? STATUS_WORDS[phase.status],
    createdAt: new Date(input.createdAtMs).toISOString(),
  };
  if (phase.status === 'in_progress') body['progress'] = fraction(phase.progress);
  if (phase.status === 'succeeded') body['output'] = outputOf(variant, input);
  if (phase.status === 'failed') Object.assign(body, input.seeded ? EXAMPLE_FAILURE : pick(id, 'runway-failure', FAILURES));
  return body;
}

/** A UUID (v4 form) from a hash of the attempt and the seed: injective, since the attempt's digits end at the first NUL. */
function uuidFrom(seed: string, attempt: number): string {
  const hex = createHash('sha256').update(`${attempt}\u0000${seed}`).digest('hex');
  const variantDigit = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variantDigit}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The first UUID made from `seed` that this simulator has: distinct seeds, distinct ids. */
function taskIdFrom(seed: string): string {
  for (let attempt = 0; ; attempt++) {
    const id = uuidFrom(seed, attempt);
    if (owns(id)) return id;
  }
}

export const profile: ProviderProfile = {
  name: RUNWAY_NAME,
  variants: RUNWAY_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: EXAMPLE_ID,
      note: 'a Runway task (a UUID: asked of every provider whose ids are UUIDs, Runway first): PENDING, RUNNING at 0.42 from 5 s, its video at 25 s',
    },
    {
      id: '2c6f9a1e-8b47-4d3c-a5e2-7f0b1d9c4e68',
      note: "over the organization's concurrency limit: THROTTLED (queued) for 4 s, then PENDING, RUNNING with a fractional progress, and an image (a text-to-image task)",
      script: {
        variant: 'image',
        model: 'gen4_image',
        timeline: [
          { atMs: 0, status: 'queued', providerStatus: THROTTLED },
          { atMs: 4000, status: 'queued' },
          { atMs: 6000, status: 'in_progress', progress: 35 },
          { atMs: 12_000, status: 'succeeded' },
        ],
      },
    },
    {
      id: FAILED_ID,
      note: 'a Runway task that runs, then fails at 6 s: its failureCode (SAFETY.INPUT.TEXT) is the error code, its failure the message',
    },
  ],
  taskPathPrefix: TASKS_PREFIX,
  models: MODELS,
  owns,
  decorateTimeline,
  render,
  authorize,
  clientHeaders: (credentials) => ({ authorization: `Bearer ${credentials.values['apiKey'] ?? ''}`, 'x-runway-version': RUNWAY_API_VERSION }),
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNAUTHORIZED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return errorAnswer(status, STATUS_CODES[status] ?? 'Error');
  },
  // The simulator answers only the status call: cancelling (DELETE) is not simulated.
  unknownPath: (method, path) => (path.startsWith(TASKS_PREFIX) && method !== 'GET' ? METHOD_NOT_ALLOWED : errorAnswer(404, 'Not found')),
  contentRoute: () => undefined,
  sampleId: taskIdFrom,
};
