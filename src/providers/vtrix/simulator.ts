/**
 * vtrix as its clients see it: `GET /model/v1/generation/task/{id}`, rendered in the
 * three body shapes of docs/providers/vtrix.md ("vtrix", response bodies 1-3).
 */
import { STATUS_CODES } from 'node:http';
import {
  filePath,
  isoSeconds,
  ownVariant,
  unixSeconds,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
} from '../../simulators/profile.js';
import type { PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, fnv1a } from '../../simulators/timeline.js';
import { VTRIX_NAME } from './map.js';

/** Response shapes of vtrix, as listed in docs/providers/vtrix.md ("Response bodies seen"). */
export const VTRIX_VARIANTS = ['model', 'cli', 'legacy'] as const;
type VtrixVariant = (typeof VTRIX_VARIANTS)[number];

/** Real vtrix ids are xid-like: 20 characters of `[0-9a-v]` (docs/providers/vtrix.md, "Task ids"). */
const XID = /^[0-9a-v]{20}$/;
/**
 * `task_` + 32 letters/digits is how current ids of a provider sharing the `task_` prefix
 * look (docs/providers/vtrix.md, "Task ids"): the simulator leaves those to it, so that the demo's
 * ambiguous ids have a single owner.
 */
const FOREIGN_TASK_ID = /^task_[A-Za-z0-9]{32}$/;

/**
 * The ids of the vtrix CLI doc and docs/providers/vtrix.md. `task_abc001` is the CLI doc's example
 * (completes ~20 s in, like its `Elapsed: 23s`).
 */
const SEEDS = new Map<string, SeedTask>([
  [
    'task_abc001',
    {
      variant: 'cli',
      model: 'spark_dance_v2_0',
      resultUrl: 'https://cdn.vtrix.ai/outputs/task_abc001/output.mp4',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 2000, status: 'in_progress', progress: 10 },
        { atMs: 6000, status: 'in_progress', progress: 30 },
        { atMs: 11_000, status: 'in_progress', progress: 55 },
        { atMs: 16_000, status: 'in_progress', progress: 80 },
        { atMs: 20_000, status: 'succeeded' },
      ],
    },
  ],
  [
    'd758n65e878c73cmdg20',
    {
      variant: 'model',
      model: 'spark_dance_v2_0',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 1500, status: 'in_progress', progress: 12 },
        { atMs: 5000, status: 'in_progress', progress: 42 },
        { atMs: 9000, status: 'in_progress', progress: 71 },
        { atMs: 12_000, status: 'in_progress', progress: 93 },
        { atMs: 14_000, status: 'succeeded' },
      ],
    },
  ],
  [
    'd5u5obte8783ap44qtj0',
    {
      variant: 'legacy',
      model: 'spark_motion_v1_5',
      // docs/providers/vtrix.md's legacy example shows `in_queue` already at progress 10.
      timeline: [
        { atMs: 0, status: 'queued', progress: 10 },
        { atMs: 2500, status: 'in_progress', progress: 35 },
        { atMs: 7000, status: 'in_progress', progress: 60 },
        { atMs: 11_000, status: 'in_progress', progress: 85 },
        { atMs: 15_000, status: 'succeeded' },
      ],
    },
  ],
]);

/*
 * Each variant's own status words. vtrix documents no cancel word at all; the simulator
 * uses both spellings the gateway's mapping accepts so either gets exercised.
 */
const STATUS_WORDS: Record<VtrixVariant, Record<PhaseStatus, string>> = {
  // Model API: no queued word, a waiting task is already `in_progress` at progress 0.
  model: { queued: 'in_progress', in_progress: 'in_progress', succeeded: 'completed', failed: 'failed', canceled: 'canceled' },
  cli: { queued: 'pending', in_progress: 'processing', succeeded: 'completed', failed: 'failed', canceled: 'canceled' },
  legacy: { queued: 'in_queue', in_progress: 'processing', succeeded: 'success', failed: 'failed', canceled: 'cancelled' },
};

const json = JSON.stringify;
const NOT_FOUND: ErrorAnswer = { status: 404, body: json({ message: 'task not found' }) };
const UNAUTHORIZED: ErrorAnswer = { status: 401, body: json({ message: 'Unauthorized' }) };
const RATE_LIMITED: ErrorAnswer = { status: 429, body: json({ error: { code: 1002, message: 'rate limited' } }) };
const UNKNOWN_PATH: ErrorAnswer = { status: 404, body: json({ message: 'Not Found' }) };

/** The three error body shapes docs/providers/vtrix.md lists for vtrix HTTP errors, spread over statuses. */
const ERROR_BODIES: Readonly<Record<number, string>> = {
  403: json({ message: 'Insufficient balance' }),
  500: json({ message: 'Internal server error' }),
  502: json({ error: 'Bad gateway' }),
  503: json({ error: { code: 1003, message: 'Service temporarily unavailable' } }),
};

/** Model API failure: a bare string or an object with a numeric or string code (by hash). */
function failureError(id: string): unknown {
  switch (draw(id, 'vtrix-error-shape', 3)) {
    case 0:
      return 'Video generation failed';
    case 1:
      return { code: 2014001, message: 'The prompt was rejected by content moderation' };
    default:
      return { code: 'GENERATION_TIMEOUT', error_message: 'Generation timed out, please retry' };
  }
}

/** `output[].content[]`; the CLI doc's items carry only `type: video_url` and `url`. */
function renderOutput(input: RenderInput, variant: VtrixVariant): unknown[] {
  if (variant === 'cli') return [{ content: [{ type: 'video_url', url: input.resultUrl }] }];
  const video = {
    type: 'video',
    url: input.resultUrl,
    duration: draw(input.id, 'vtrix-duration', 2) === 0 ? '5' : '10',
    jobId: `job_${fnv1a(input.id).toString(16)}`,
  };
  // Some tasks list a cover image before the video, so "first video, not first item" matters.
  const withCover = !input.seeded && draw(input.id, 'vtrix-cover', 4) === 0;
  const content = withCover ? [{ type: 'image', url: `${input.baseUrl}${filePath(input.id, 'jpg')}` }, video] : [video];
  return [{ content }];
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(VTRIX_NAME, VTRIX_VARIANTS, variantName);
  const { phase } = input;
  const status = phase.providerStatus ?? STATUS_WORDS[variant][phase.status];
  const running = phase.status === 'queued' || phase.status === 'in_progress';
  const percent = phase.status === 'succeeded' ? 100 : (phase.progress ?? 0);

  if (variant === 'legacy') {
    // Legacy wrapped: the top-level `status` is the envelope's, the task's is in `data`.
    const data: Record<string, unknown> = {
      id: input.id,
      status,
      progress: Math.round(percent),
      created_at: input.createdAtMs,
    };
    if (phase.status === 'succeeded') data['output'] = renderOutput(input, variant);
    if (phase.status === 'failed') data['error'] = failureError(input.id);
    return { data, status: { code: 200, message: 'success' } };
  }

  if (variant === 'cli') {
    const body: Record<string, unknown> = {
      task_id: input.id,
      status,
      model: input.model,
      created_at: isoSeconds(input.createdAtMs),
    };
    if (input.completedAtMs !== undefined) body['completed_at'] = isoSeconds(input.completedAtMs);
    if (phase.status === 'succeeded') body['output'] = renderOutput(input, variant);
    if (phase.status === 'failed') body['error'] = failureError(input.id);
    return body;
  }

  // Model API: progress is a fraction, and only present while the task runs.
  const body: Record<string, unknown> = { id: input.id, model: input.model, status };
  if (running) body['progress'] = percent / 100;
  body['created_at'] = unixSeconds(input.createdAtMs);
  if (phase.status === 'succeeded') {
    body['output'] = renderOutput(input, variant);
    body['usage'] = { credits: 10 + draw(input.id, 'vtrix-credits', 40) };
  }
  if (phase.status === 'failed') body['error'] = failureError(input.id);
  return body;
}

export const profile: ProviderProfile = {
  name: VTRIX_NAME,
  variants: VTRIX_VARIANTS,
  seeds: SEEDS,
  demo: [
    { id: 'task_abc001', note: "vtrix's documented task: running now, succeeded ~20 s after its first poll" },
    { id: 'task_demo_failed', note: 'a failed task is a 200 with status "failed" and an error', script: { variant: 'model', timeline: [{ atMs: 0, status: 'failed' }] } },
    { id: 'vtrix:d758n65e878c73cmdg20', note: 'a qualified id goes straight to the named provider' },
  ],
  taskPathPrefix: '/model/v1/generation/task/',
  models: ['spark_dance_v2_0', 'spark_motion_v1_5', 'lumen_i2v_v3'],
  owns: (id) => XID.test(id) || (id.startsWith('task_') && !FOREIGN_TASK_ID.test(id)),
  decorateTimeline: (_variant: Variant, timeline) => timeline,
  render,
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNAUTHORIZED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return { status, body: ERROR_BODIES[status] ?? json({ message: STATUS_CODES[status] ?? 'Error' }) };
  },
  unknownPath: () => UNKNOWN_PATH,
  contentRoute: () => undefined,
};
