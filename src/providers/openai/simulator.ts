/**
 * OpenAI Videos as its clients see it: `GET /v1/videos/{video_id}` in the three body shapes
 * of docs/providers/openai.md ("openai", response bodies 1-3), its `{"error": {...}}` envelope, the
 * `openai-poll-after-ms` hint, and the key-gated `/v1/videos/{id}/content?variant=…`.
 */
import { STATUS_CODES } from 'node:http';
import {
  idBetween,
  ownVariant,
  unixSeconds,
  type ContentRoute,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
} from '../../simulators/profile.js';
import type { CommittedAssetName } from '../../simulators/media/assets.js';
import { isTerminal, type PhaseStatus, type Variant } from '../../simulators/script.js';
import { pick } from '../../simulators/timeline.js';
import { OPENAI_NAME } from './map.js';

/** Response shapes, as listed in docs/providers/openai.md ("openai", "Response bodies seen"). */
export const OPENAI_VARIANTS = ['openai', 'hosted', 'relay'] as const;

/** OpenAI's own ids: `video_` + 48 hex (docs/providers/openai.md, "ids"). */
const OPENAI_ID = /^video_[0-9a-f]{48}$/;
/** Relays' own id forms (docs/providers/openai.md openai variant 3). */
const RELAY_PREFIXES = ['sora-2-', 'task_'] as const;

const EXAMPLE_ID = 'video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5';

/** docs/providers/openai.md's example: running at 33 % when first asked, done 8 s later. */
const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'openai',
      model: 'sora-2',
      timeline: [
        { atMs: 0, status: 'in_progress', progress: 33 },
        { atMs: 4000, status: 'in_progress', progress: 67 },
        { atMs: 8000, status: 'succeeded' },
      ],
    },
  ],
]);

// OpenAI documents no cancel word; the spelling of the copies that have one.
const STATUS_WORDS: Record<PhaseStatus, string> = {
  queued: 'queued',
  in_progress: 'in_progress',
  succeeded: 'completed',
  failed: 'failed',
  canceled: 'cancelled',
};

/** What the simulator tells a client to wait between polls of a running OpenAI video. */
export const POLL_AFTER_MS = 2000;
/** How long after completion the files stay downloadable (a simulator choice; OpenAI says "expires_at"). */
const FILES_KEPT_MS = 60 * 60 * 1000;
const FAILURES = [
  { code: 'moderation_blocked', message: 'Your request was blocked by our moderation system.' },
  { code: 'video_generation_failed', message: 'Video generation failed. Please try again.' },
] as const;
const PROMPTS = ['A calico cat playing a piano on stage', 'Wide tracking shot of a teal coupe driving through a desert highway'];

/** `?variant=` of the content endpoint → the committed file served for it. */
const CONTENT_ASSETS: Readonly<Record<string, CommittedAssetName>> = {
  video: 'sample.webm',
  thumbnail: 'thumbnail.webp',
  spritesheet: 'thumbnail.jpg',
};

const json = JSON.stringify;

function apiError(status: number, message: string, type: string, code: string | null, param: string | null = null): ErrorAnswer {
  return { status, body: json({ error: { message, type, param, code } }) };
}

const NOT_FOUND = apiError(404, 'No video found with that id.', 'invalid_request_error', null, 'video_id');
const UNAUTHORIZED = apiError(
  401,
  'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  'invalid_request_error',
  'invalid_api_key',
);
const RATE_LIMITED = apiError(429, 'Rate limit reached for requests. Please try again shortly.', 'requests', 'rate_limit_exceeded');
const INVALID_CONTENT_VARIANT = apiError(
  400,
  "Invalid value for 'variant': expected one of 'video', 'thumbnail', or 'spritesheet'.",
  'invalid_request_error',
  'invalid_value',
  'variant',
);

function isRelayId(id: string): boolean {
  return RELAY_PREFIXES.some((prefix) => id.startsWith(prefix));
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(OPENAI_NAME, OPENAI_VARIANTS, variantName);
  const { phase, id } = input;
  const succeeded = phase.status === 'succeeded';
  const body: Record<string, unknown> = {
    id,
    object: 'video',
    model: input.model,
    status: phase.providerStatus ?? STATUS_WORDS[phase.status],
    progress: succeeded ? 100 : Math.round(phase.progress ?? 0),
    // docs/providers/openai.md openai variant 3: relays send created_at in milliseconds, the rest in seconds.
    created_at: variant === 'relay' ? input.createdAtMs : unixSeconds(input.createdAtMs),
    completed_at: input.completedAtMs === undefined ? null : unixSeconds(input.completedAtMs),
    expires_at: succeeded && input.completedAtMs !== undefined ? unixSeconds(input.completedAtMs + FILES_KEPT_MS) : null,
    prompt: pick(id, 'openai-prompt', PROMPTS),
    seconds: pick(id, 'openai-seconds', ['4', '8', '12']),
    size: pick(id, 'openai-size', ['1280x720', '720x1280']),
    remixed_from_video_id: null,
    error: phase.status === 'failed' ? pick(id, 'openai-error', FAILURES) : null,
  };
  // docs/providers/openai.md openai variant 2: hosted copies add a public URL (and what it cost).
  if (variant === 'hosted' && succeeded) body['outputs'] = { video_url: input.resultUrl, cost: 0.4 };
  return body;
}

export const profile: ProviderProfile = {
  name: OPENAI_NAME,
  variants: OPENAI_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: EXAMPLE_ID,
      note: "OpenAI's example video: video_… is asked of gravitex and openai at once, openai has it (done ~8 s in; its files then come through the gateway)",
    },
    {
      id: 'openai:sora-2-demo0000000000000001',
      note: "a relay's copy of the OpenAI shape (its own id form, so qualified): finished, files through the gateway's /content",
      script: { variant: 'relay', model: 'sora-2', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
  ],
  taskPathPrefix: '/v1/videos/',
  models: ['sora-2', 'sora-2-pro'],
  owns: (id) => OPENAI_ID.test(id) || isRelayId(id),
  // A relay's own id form comes in the relay's shape; OpenAI's ids in OpenAI's or a host's.
  variantFor: (id) => (isRelayId(id) ? 'relay' : pick(id, 'openai-variant', ['openai', 'hosted'])),
  decorateTimeline: (_variant: Variant, timeline) => timeline,
  render,
  // Only OpenAI itself sends the poll hint; its copies leave clients to the SDKs' 1 s default.
  statusHeaders: (variant, input) =>
    variant === 'openai' && !isTerminal(input.phase.status) ? { 'openai-poll-after-ms': String(POLL_AFTER_MS) } : undefined,
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNAUTHORIZED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    if (status === 403) return apiError(403, 'Your organization must be verified to use the model sora-2.', 'invalid_request_error', null);
    if (status >= 500) return apiError(status, 'The server had an error while processing your request. Sorry about that!', 'server_error', null);
    return apiError(status, STATUS_CODES[status] ?? 'Error', 'invalid_request_error', null);
  },
  unknownPath: (method, path) => apiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null),
  contentRoute(path, query): ContentRoute | undefined {
    const encodedId = idBetween(path, '/v1/videos/', '/content');
    if (encodedId === undefined) return undefined;
    const variant = query.get('variant') ?? 'video';
    const asset = Object.hasOwn(CONTENT_ASSETS, variant) ? CONTENT_ASSETS[variant] : undefined;
    return asset === undefined ? { error: INVALID_CONTENT_VARIANT } : { encodedId, asset };
  },
};
