/**
 * gravitex as its clients see it: `GET /v1/video/generations/{task_id}`, rendered in the
 * body shapes of docs/providers/gravitex.md ("gravitex", response bodies 1-3), with its OpenAI-style
 * error envelope and its HTTP 400 for unknown tasks.
 */
import { STATUS_CODES } from 'node:http';
import {
  filePath,
  idBetween,
  ownVariant,
  unixSeconds,
  VIDEO_EXTENSION,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
} from '../../simulators/profile.js';
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { draw } from '../../simulators/timeline.js';
import { GRAVITEX_NAME } from './map.js';

/** Response shapes of gravitex, as listed in docs/providers/gravitex.md ("Response bodies seen"). */
export const GRAVITEX_VARIANTS = ['documented', 'wrapped', 'wrapped_alt', 'legacy'] as const;
type GravitexVariant = (typeof GRAVITEX_VARIANTS)[number];

/** Current gravitex ids (docs/providers/gravitex.md: `task_` + 32 letters/digits). */
const CURRENT_TASK_ID = /^task_[A-Za-z0-9]{32}$/;
/**
 * `video_` + 48 hex is how ids of the API gravitex relays look (docs/providers/gravitex.md, "ids"): the
 * simulator leaves those to that provider, so a `video_…` id the demo shows has one owner.
 */
const FOREIGN_VIDEO_ID = /^video_[0-9a-f]{48}$/;

/** The gravitex doc's `video_…` example: already done when first asked. */
const SEEDS = new Map<string, SeedTask>([
  [
    'video_69095b4ce0048190893a01510c0c98b0',
    {
      variant: 'documented',
      model: 'sora-2',
      resultUrl: 'https://gravitex-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4',
      timeline: [{ atMs: 0, status: 'succeeded' }],
    },
  ],
]);

// No gravitex shape documents a cancel word; both spellings the mapping accepts are used.
const STATUS_WORDS: Record<GravitexVariant, Record<PhaseStatus, string>> = {
  documented: { queued: 'queued', in_progress: 'in_progress', succeeded: 'succeeded', failed: 'failed', canceled: 'canceled' },
  wrapped: { queued: 'queued', in_progress: 'in_progress', succeeded: 'completed', failed: 'failed', canceled: 'cancelled' },
  // "some channels send data with status succeeded | failed | queued | processing"
  wrapped_alt: { queued: 'queued', in_progress: 'processing', succeeded: 'succeeded', failed: 'failed', canceled: 'cancelled' },
  legacy: { queued: 'QUEUED', in_progress: 'IN_PROGRESS', succeeded: 'SUCCESS', failed: 'FAILURE', canceled: 'CANCELLED' },
};

const json = JSON.stringify;
const NOT_FOUND: ErrorAnswer = {
  status: 400,
  body: json({ code: 'task_not_exist', message: 'task_not_exist', data: null }),
};
/** The 404 shape gravitex's docs claim for an unknown task (docs/providers/gravitex.md: "accept both"). */
const DOCUMENTED_NOT_FOUND: ErrorAnswer = {
  status: 404,
  body: json({ error: { message: 'task not found', type: 'invalid_request_error', param: 'task_id', code: 'task_not_found' } }),
};
// "upstream capacity saturated, retry later": the Chinese text gravitex rewrites 429s to.
const SATURATED_MESSAGE = '当前分组上游负载已饱和，请稍后再试';

let requestCounter = 0;

/** gravitex stamps every error message with a request id, e.g. `(request id: 2026…)`. */
function requestId(): string {
  requestCounter = (requestCounter + 1) % 100_000_000;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 17);
  return `${stamp}${String(requestCounter).padStart(8, '0')}`;
}

function apiError(status: number, message: string, type: string, code: string): ErrorAnswer {
  return { status, body: json({ error: { message: `${message} (request id: ${requestId()})`, type, code } }) };
}

function unauthorized(): ErrorAnswer {
  return apiError(401, 'invalid token', 'api_error', '');
}

function rateLimited(): ErrorAnswer {
  return apiError(429, SATURATED_MESSAGE, 'upstream_error', '');
}

/**
 * The wrapped variant's result URL: usually the file itself, but by hash a relative URL or
 * the self-referencing `/v1/videos/{task_id}/content` (docs/providers/gravitex.md, "Result url").
 */
function wrappedResultUrl(input: RenderInput, variant: GravitexVariant): string {
  if (input.seeded || variant !== 'wrapped') return input.resultUrl;
  const style = draw(input.id, 'gravitex-url-style', 8);
  if (style === 0) return filePath(input.id, VIDEO_EXTENSION);
  if (style === 1) return `${input.baseUrl}/v1/videos/${encodeURIComponent(input.id)}/content`;
  return input.resultUrl;
}

function videoMetadata(id: string): Record<string, number> {
  return { duration: draw(id, 'gravitex-duration', 2) === 0 ? 4 : 8, fps: 24, width: 1280, height: 720, seed: draw(id, 'seed', 100_000) };
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(GRAVITEX_NAME, GRAVITEX_VARIANTS, variantName);
  const { phase, id } = input;
  const status = phase.providerStatus ?? STATUS_WORDS[variant][phase.status];
  const percent = Math.round(phase.status === 'succeeded' ? 100 : (phase.progress ?? 0));

  if (variant === 'documented') {
    // Documented flat: no progress, no times; `error.code` is a number here.
    const body: Record<string, unknown> = { task_id: id, status, format: 'mp4' };
    if (phase.status === 'succeeded') {
      body['url'] = input.resultUrl;
      if (!input.seeded) body['metadata'] = videoMetadata(id);
    }
    if (phase.status === 'failed') {
      body['error'] = draw(id, 'gravitex-error', 2) === 0
        ? { code: 400, message: 'Prompt contains inappropriate content' }
        : { code: 500, message: 'Video generation failed upstream' };
    }
    return body;
  }

  if (variant === 'legacy') {
    // Legacy task DTO: upper-case words, progress as "30%", `fail_reason`, `result_url`.
    const data: Record<string, unknown> = {
      task_id: id,
      action: 'generate',
      status,
      fail_reason: phase.status === 'failed' ? 'upstream task failed: content policy violation' : '',
      submit_time: unixSeconds(input.createdAtMs),
      start_time: input.startedAtMs === undefined ? 0 : unixSeconds(input.startedAtMs),
      finish_time: input.completedAtMs === undefined ? 0 : unixSeconds(input.completedAtMs),
      progress: `${phase.status === 'failed' ? 100 : percent}%`,
    };
    if (phase.status === 'succeeded') data['result_url'] = input.resultUrl;
    return { code: 'success', message: '', data };
  }

  // What the server actually sends: an OpenAI-video-like object in a {code, data} wrapper.
  const data: Record<string, unknown> = {
    id,
    task_id: id,
    object: 'video',
    model: input.model,
    status,
    progress: percent,
    created_at: unixSeconds(input.createdAtMs),
    // Unset times come as 0, like the Go structs behind this endpoint.
    completed_at: input.completedAtMs === undefined ? 0 : unixSeconds(input.completedAtMs),
    seconds: String(videoMetadata(id)['duration']),
  };
  if (phase.status === 'succeeded') {
    const url = wrappedResultUrl(input, variant);
    data['url'] = url;
    data['video_url'] = url;
    data['metadata'] = videoMetadata(id);
  }
  if (phase.status === 'failed') data['error'] = { message: 'task failed', code: 'failed' };
  return { code: 'success', message: '', data };
}

/**
 * Default-timeline quirks: a `wrapped` task may say `unknown` for one running phase (1 in
 * 4 by hash); a `legacy` task starts as NOT_START or SUBMITTED before it is QUEUED.
 */
function decorateTimeline(variant: Variant, timeline: Phase[], id: string): Phase[] {
  if (variant === 'wrapped' && draw(id, 'gravitex-unknown', 4) === 0) {
    const running = timeline.filter((phase) => phase.status === 'in_progress');
    const odd = running[Math.floor(running.length / 2)];
    if (running.length >= 2 && odd !== undefined) {
      return timeline.map((phase) => (phase === odd ? { ...phase, providerStatus: 'unknown' } : phase));
    }
  }
  const [first, second, ...rest] = timeline;
  if (variant === 'legacy' && first?.status === 'queued' && second !== undefined) {
    const earlyWord = draw(id, 'gravitex-early-word', 2) === 0 ? 'NOT_START' : 'SUBMITTED';
    const queuedAt = Math.round(second.atMs / 2);
    return [{ ...first, providerStatus: earlyWord }, { atMs: queuedAt, status: 'queued' }, second, ...rest];
  }
  return timeline;
}


export const profile: ProviderProfile = {
  name: GRAVITEX_NAME,
  variants: GRAVITEX_VARIANTS,
  seeds: SEEDS,
  demo: [
    { id: 'video_69095b4ce0048190893a01510c0c98b0', note: "gravitex's documented video: already succeeded" },
    {
      id: 'task_Demo0000000000000000000000000001',
      note: 'follow a task with server-sent events until it finishes (~9 s)',
      events: true,
      script: {
        variant: 'wrapped',
        timeline: [
          { atMs: 0, status: 'queued' },
          { atMs: 3000, status: 'in_progress', progress: 25 },
          { atMs: 6000, status: 'in_progress', progress: 70 },
          { atMs: 9000, status: 'succeeded' },
        ],
      },
    },
  ],
  taskPathPrefix: '/v1/video/generations/',
  models: ['sora-2', 'veo-3.1-fast', 'kling-v2.1'],
  owns: (id) => (id.startsWith('video_') && !FOREIGN_VIDEO_ID.test(id)) || CURRENT_TASK_ID.test(id),
  decorateTimeline,
  render,
  notFound: () => NOT_FOUND,
  unauthorized,
  rateLimited,
  errorStatus(status) {
    if (status === 401) return unauthorized();
    if (status === 429) return rateLimited();
    if (status === 404) return DOCUMENTED_NOT_FOUND;
    if (status === 403) return apiError(403, 'user is banned', 'api_error', '');
    const type = status >= 500 ? 'api_error' : 'invalid_request_error';
    return apiError(status, (STATUS_CODES[status] ?? 'error').toLowerCase(), type, 'bad_response_status_code');
  },
  unknownPath: (method, path) => ({
    status: 404,
    body: json({ error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: '', code: '' } }),
  }),
  contentRoute(path) {
    const encodedId = idBetween(path, '/v1/videos/', '/content');
    return encodedId === undefined ? undefined : { encodedId, asset: 'sample.webm' };
  },
};
