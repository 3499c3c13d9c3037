/**
 * DashScope as its clients see it: `GET /api/v1/tasks/{task_id}` with `Authorization:
 * Bearer <key>`, the task in `output` (a video task's `video_url`, an image task's
 * `results[]`, a failure's `output.code`/`message`), zone-less China-time timestamps,
 * `UNKNOWN` in an HTTP 200 for an id it does not have, and its `{code, message}` error
 * bodies. Result links carry an OSS-style `Expires`. The facts are in
 * docs/providers/dashscope.md.
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
} from '../../simulators/profile.js';
import type { PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, holdsShare, pick } from '../../simulators/timeline.js';
import { DASHSCOPE_NAME, TASK_ID, UNKNOWN_STATUS } from './map.js';

/** A video task (`output.video_url`) or an image task (`output.results[].url`). */
export const DASHSCOPE_VARIANTS = ['video', 'image'] as const;

const TASK_PATH = '/api/v1/tasks/';

/** UUIDs are Runway's, Luma's and DashScope's ids alike: this simulator holds DashScope's share of them. */
function inOwnShare(id: string): boolean {
  return holdsShare('uuid', DASHSCOPE_NAME, id);
}

/** The documented example task: RUNNING when first asked, its video 8 s later. */
const EXAMPLE_ID = '966cebcd-dedc-4962-af88-0e2b1a7c3f11';
/** A task the content review stopped (the documented failure, under an id of its own). */
const FAILED_EXAMPLE_ID = 'd5c00002-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
const EXAMPLE_PROMPTS = { orig_prompt: 'a cat running', actual_prompt: 'A white cat runs across the grass …' };
const CONTENT_REVIEW = { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' };

// The documented result link's `Expires` is a fixed date long past: the seeds' files are the simulator's own.
const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'video',
      model: 'wan2.5-t2v-preview',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 8000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_EXAMPLE_ID,
    {
      variant: 'video',
      model: 'wan2.5-t2v-preview',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 5000, status: 'failed' },
      ],
    },
  ],
]);

const STATUS_WORDS: Record<PhaseStatus, string> = {
  queued: 'PENDING',
  in_progress: 'RUNNING',
  succeeded: 'SUCCEEDED',
  failed: 'FAILED',
  canceled: 'CANCELED',
};

const FAILURES = [
  CONTENT_REVIEW,
  { code: 'InternalError', message: 'An internal error has occured, please try again later or contact service support.' },
  { code: 'InternalError.Timeout', message: 'An internal timeout error has occured during execution, please try again later or contact service support.' },
] as const;
const PROMPTS = [
  { orig_prompt: 'a paper boat drifting down a rainy street', actual_prompt: 'A small white paper boat drifts along a rain-soaked street at dusk, reflections shimmering …' },
  { orig_prompt: 'a red panda eating bamboo', actual_prompt: 'A red panda sits on a mossy branch, chewing bamboo leaves in soft morning light …' },
] as const;

/** How long DashScope keeps a task and signs its result links for (docs/providers/dashscope.md). */
const RETENTION_SECONDS = 24 * 60 * 60;
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

const json = JSON.stringify;

/** A UUID (v4 form) made from `text`: the simulator's task and request ids. */
function uuidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variantDigit = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variantDigit}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** DashScope's time format: China wall clock, milliseconds, no zone (`2026-05-01 18:05:15.212`). */
export function chinaTime(epochMs: number): string {
  return new Date(epochMs + CHINA_OFFSET_MS).toISOString().slice(0, 23).replace('T', ' ');
}

function apiError(status: number, code: string, message: string): ErrorAnswer {
  return { status, body: json({ request_id: uuidFrom(`${status}:${code}`), code, message }) };
}

const NO_KEY = apiError(401, 'InvalidApiKey', 'No API-key provided.');
const WRONG_KEY = apiError(401, 'InvalidApiKey', 'Invalid API-key provided.');
const ACCESS_DENIED = apiError(403, 'AccessDenied', 'Access denied.');
const RATE_LIMITED = apiError(429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.');
const NOT_FOUND = apiError(404, 'NotFound', 'Not Found');

/**
 * An id it does not have (or no longer has) is an HTTP 200 saying UNKNOWN. The shared
 * server prepares this answer once, for every id: it cannot echo the id as DashScope does.
 */
export const UNKNOWN_BODY = { request_id: uuidFrom(UNKNOWN_STATUS), output: { task_status: UNKNOWN_STATUS } };

/** OSS's signed-link parameters on a file of the simulator's own; a link made elsewhere (a CDN's) is kept as it is. */
function ossSigned(url: string, expires: number): string {
  if (url.includes('?')) return url;
  const signature = createHash('sha1').update(`${url}\n${expires}`).digest('base64');
  const query = new URLSearchParams({ Expires: String(expires), OSSAccessKeyId: 'LTAI5tSimulatorKeyId', Signature: signature });
  return `${url}?${query.toString()}`;
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(DASHSCOPE_NAME, DASHSCOPE_VARIANTS, variantName);
  const { phase, id } = input;
  const output: Record<string, unknown> = {
    task_id: id,
    task_status: phase.providerStatus ?? STATUS_WORDS[phase.status],
    submit_time: chinaTime(input.createdAtMs),
  };
  // A task canceled in the queue never ran.
  if (input.startedAtMs !== undefined && phase.status !== 'canceled') output['scheduled_time'] = chinaTime(input.startedAtMs);
  if (input.completedAtMs !== undefined) output['end_time'] = chinaTime(input.completedAtMs);
  const images = 1 + draw(id, 'dashscope-images', 2);
  const expires = Math.floor((input.completedAtMs ?? input.createdAtMs) / 1000) + RETENTION_SECONDS;
  const body: Record<string, unknown> = { request_id: uuidFrom(`${id}:${phase.atMs}:${phase.status}`), output };
  if (phase.status === 'succeeded' && variant === 'video') {
    output['video_url'] = ossSigned(input.resultUrl, expires);
    Object.assign(output, input.seeded ? EXAMPLE_PROMPTS : pick(id, 'dashscope-prompt', PROMPTS));
    body['usage'] = { video_duration: pick(id, 'dashscope-duration', [5, 10]), video_count: 1, SR: pick(id, 'dashscope-resolution', [720, 1080]) };
  }
  if (phase.status === 'succeeded' && variant === 'image') {
    // Images of its own, whatever link the task was given (that one is a video).
    output['results'] = Array.from({ length: images }, (_, index) => ({ url: ossSigned(`${input.baseUrl}${filePath(`${id}-${index}`, 'webp')}`, expires) }));
    output['task_metrics'] = { TOTAL: images, SUCCEEDED: images, FAILED: 0 };
    body['usage'] = { image_count: images };
  } else if (variant === 'image') {
    output['task_metrics'] = { TOTAL: images, SUCCEEDED: 0, FAILED: phase.status === 'failed' ? images : 0 };
  }
  if (phase.status === 'failed') Object.assign(output, input.seeded ? CONTENT_REVIEW : pick(id, 'dashscope-failure', FAILURES));
  return body;
}

export const profile: ProviderProfile = {
  name: DASHSCOPE_NAME,
  variants: DASHSCOPE_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: `${DASHSCOPE_NAME}:${EXAMPLE_ID}`,
      note: "DashScope's documented Wan task: RUNNING when first asked, SUCCEEDED 8 s later; its video link's Expires is the task's expires_at",
    },
    {
      id: `${DASHSCOPE_NAME}:${FAILED_EXAMPLE_ID}`,
      note: 'a task the content review stopped: FAILED with output.code DataInspectionFailed, 5 s in',
    },
    {
      id: 'd5c00003-3e1a-4f6b-9c2d-7a8e0b1c2d3e',
      note: 'a bare UUID is asked of every configured UUID provider at once (runway, luma, dashscope); dashscope has this image task',
      script: { variant: 'image', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
  ],
  taskPathPrefix: TASK_PATH,
  models: ['wan2.5-t2v-preview', 'wan2.2-i2v-plus', 'wan2.2-t2i-flash'],
  owns: (id) => SEEDS.has(id) || (TASK_ID.test(id) && inOwnShare(id)),
  // Most tasks people poll here are videos; some are Wan's images.
  variantFor: (id) => pick(id, 'dashscope-variant', ['video', 'video', 'image']),
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  notFound: () => ({ status: 200, body: json(UNKNOWN_BODY) }),
  unauthorized: () => WRONG_KEY,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return WRONG_KEY;
    if (status === 403) return ACCESS_DENIED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    if (status >= 500) return apiError(status, 'InternalError', 'An internal error has occured, please try again later or contact service support.');
    return apiError(status, 'InvalidParameter', STATUS_CODES[status] ?? 'Bad Request');
  },
  unknownPath: () => NOT_FOUND,
  contentRoute: () => undefined,
  authorize(request, credentials) {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '' || header.trim() === 'Bearer') return NO_KEY;
    return header === `Bearer ${credentials.values['apiKey'] ?? ''}` ? undefined : WRONG_KEY;
  },
  sampleId(seed) {
    // The first of the seed's UUIDs that falls in DashScope's share: distinct seeds, distinct ids.
    for (let attempt = 0; ; attempt++) {
      const id = uuidFrom(`${seed}\u0000${attempt}`);
      if (inOwnShare(id)) return id;
    }
  },
};
