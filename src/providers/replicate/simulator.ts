/**
 * Replicate as its clients see it: `GET /v1/predictions/{id}` with `Authorization: Bearer`
 * (or the older `Token`) and Replicate's `{"detail": …}` errors; a prediction `starting`,
 * `processing` with growing `logs`, then `succeeded` with its `output` as a URL, a list of
 * URLs or an object of them, `failed` with a string `error`, `canceled`, or `aborted` when
 * it never started; and, on a pinned phase, succeeded with its files removed
 * (`data_removed`). Facts in docs/providers/replicate.md.
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
import { pick } from '../../simulators/timeline.js';
import { PREDICTION_ID, REPLICATE_NAME } from './map.js';

/** The shapes of a succeeded prediction's `output`: a URL, a list of URLs, an object whose values are URLs. */
export const REPLICATE_VARIANTS = ['string', 'array', 'object'] as const;
type ReplicateVariant = (typeof REPLICATE_VARIANTS)[number];

/**
 * The `providerStatus` of a succeeded phase whose files Replicate has deleted (an API
 * prediction an hour after it ended): `status` stays `succeeded`, `output` is null.
 */
export const DATA_REMOVED = 'data_removed';

const API_PREFIX = '/v1/predictions/';
const WEB_PREFIX = 'https://replicate.com/p/';

/** docs/providers/replicate.md's example prediction (minimax/video-01, "a fox"), and a second example id as its failed one. */
const EXAMPLE_ID = 'qz7mfxlkw3vdpygt1o8hbnsuae';
const FAILED_ID = 'gm3qorzdhgbfurvjtvhg6dckhu';
const EXAMPLE_MODEL = 'minimax/video-01';
const EXAMPLE_PROMPT = 'a fox';
const EXAMPLE_FAILURE = 'NSFW content detected';
/** The result file of docs/providers/replicate.md's example (its path elided there, made up here). */
const EXAMPLE_RESULT_URL = 'https://replicate.delivery/xezq/Xb3kQm9TfWp2LzR7vN5cHd/output.mp4';

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'string',
      model: EXAMPLE_MODEL,
      resultUrl: EXAMPLE_RESULT_URL,
      timeline: [
        { atMs: 0, status: 'queued' },
        // docs/providers/replicate.md shows it at "step 12/50".
        { atMs: 5000, status: 'in_progress', progress: 24 },
        { atMs: 20_000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_ID,
    {
      variant: 'string',
      model: EXAMPLE_MODEL,
      timeline: [
        { atMs: 0, status: 'in_progress', progress: 24 },
        { atMs: 6000, status: 'failed' },
      ],
    },
  ],
]);

const MODELS = [EXAMPLE_MODEL, 'kwaivgi/kling-v2.1', 'google/veo-3', 'wan-video/wan-2.2-t2v-fast'] as const;
const PROMPTS = ['a lighthouse at dusk, waves crashing, film grain', 'a red panda rolling down a grassy hill, slow motion'] as const;
const FAILURES = [
  'NSFW content detected. Try running it again, or try a different prompt.',
  'CUDA out of memory. Tried to allocate 2.00 GiB',
  'Prediction failed: the input image could not be read.',
] as const;
const TOTAL_STEPS = 50;

const STATUS_WORDS: Readonly<Record<Exclude<PhaseStatus, 'canceled'>, string>> = {
  queued: 'starting',
  in_progress: 'processing',
  succeeded: 'succeeded',
  failed: 'failed',
};

const json = JSON.stringify;
const errorAnswer = (status: number, body: Record<string, unknown>): ErrorAnswer => ({ status, body: json(body) });
const NOT_FOUND = errorAnswer(404, { detail: 'Not found.' });
const NO_TOKEN = errorAnswer(401, { title: 'Unauthenticated', detail: 'You did not pass an authentication token', status: 401 });
const INVALID_TOKEN = errorAnswer(401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
const RATE_LIMITED = errorAnswer(429, { detail: 'Request was throttled. Expected available in 1 second.' });

/** Replicate takes `Bearer <token>` and, from older clients, `Token <token>`; nothing else. */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header === '') return NO_TOKEN;
  const token = credentials.values['apiKey'] ?? '';
  return token !== '' && (header === `Bearer ${token}` || header === `Token ${token}`) ? undefined : INVALID_TOKEN;
}

/** ISO 8601 with milliseconds, as Replicate writes its times. */
function isoMillis(milliseconds: number | undefined): string | null {
  return milliseconds === undefined ? null : new Date(milliseconds).toISOString();
}

/** The `logs` so far: they grow while the model runs (Replicate's only sign of progress). */
function logsAt(progress: number | undefined): string {
  const step = Math.min(TOTAL_STEPS, Math.max(1, Math.round(((progress ?? 0) / 100) * TOTAL_STEPS)));
  return progress === undefined ? 'loading weights' : `loading weights\nstep ${step}/${TOTAL_STEPS}`;
}

/** A canceled prediction that never started is `aborted` (its deadline passed while it waited). */
function neverRan(input: RenderInput): boolean {
  return input.startedAtMs === undefined || input.startedAtMs === input.completedAtMs;
}

/** What the model printed so far; none before it starts, and none once the data is removed. */
function logsOf(phase: Phase, error: string | null, silent: boolean): string {
  if (silent || phase.status === 'queued') return '';
  if (error !== null) return `loading weights\n${error}`;
  return logsAt(phase.status === 'succeeded' ? 100 : phase.progress);
}

function statusWord(phase: Phase, input: RenderInput, removed: boolean): string {
  if (removed) return 'succeeded';
  if (phase.providerStatus !== undefined) return phase.providerStatus;
  if (phase.status === 'canceled') return neverRan(input) ? 'aborted' : 'canceled';
  return STATUS_WORDS[phase.status];
}

function outputOf(variant: ReplicateVariant, input: RenderInput): unknown {
  switch (variant) {
    case 'string':
      return input.resultUrl;
    case 'array':
      return [input.resultUrl];
    case 'object':
      // The thumbnail is this simulator's own public file: a path ending in .webp, an image.
      return { video: input.resultUrl, thumbnail: `${input.baseUrl}${filePath(input.id, 'webp')}` };
  }
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(REPLICATE_NAME, REPLICATE_VARIANTS, variantName);
  const { phase, id } = input;
  const removed = phase.status === 'succeeded' && phase.providerStatus === DATA_REMOVED;
  const aborted = phase.status === 'canceled' && neverRan(input);
  const started = phase.status !== 'queued' && !aborted;
  const error = phase.status === 'failed' ? (input.seeded ? EXAMPLE_FAILURE : pick(id, 'replicate-failure', FAILURES)) : null;
  const predictSeconds =
    phase.status === 'succeeded' && input.startedAtMs !== undefined && input.completedAtMs !== undefined
      ? Math.round((input.completedAtMs - input.startedAtMs) / 100) / 10
      : undefined;
  const getUrl = `${input.baseUrl}${API_PREFIX}${id}`;
  return {
    id,
    model: input.model,
    version: createHash('sha256').update(input.model).digest('hex'),
    status: statusWord(phase, input, removed),
    // The inputs and logs go with the files when Replicate removes a prediction's data.
    input: removed ? {} : { prompt: input.seeded ? EXAMPLE_PROMPT : pick(id, 'replicate-prompt', PROMPTS) },
    output: phase.status === 'succeeded' && !removed ? outputOf(variant, input) : null,
    error,
    logs: logsOf(phase, error, removed || aborted),
    created_at: isoMillis(input.createdAtMs),
    started_at: started ? isoMillis(input.startedAtMs) : null,
    completed_at: isoMillis(input.completedAtMs),
    data_removed: removed,
    source: 'api',
    ...(predictSeconds === undefined ? {} : { metrics: { predict_time: predictSeconds } }),
    urls: { get: getUrl, cancel: `${getUrl}/cancel`, web: `${WEB_PREFIX}${id}` },
  };
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 26 lowercase base32 characters of the seed's SHA-256 (130 bits): distinct seeds, distinct ids. */
function predictionIdFrom(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let bits = 0;
  let value = 0;
  let id = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && id.length < 26) {
      bits -= 5;
      id += BASE32[(value >>> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return id;
}

export const profile: ProviderProfile = {
  name: REPLICATE_NAME,
  variants: REPLICATE_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: EXAMPLE_ID,
      note: 'a Replicate prediction (26 lowercase letters and digits route there): starting, processing at 5 s, succeeded at 20 s with its video URL',
    },
    {
      id: 'demoobjectoutputs000000001',
      note: 'a model whose output is an object: its video and its thumbnail, typed by their file extensions',
      script: { variant: 'object', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
    {
      id: 'demofilesremoved0000000001',
      note: 'an API prediction an hour after it ended: data_removed, so succeeded with url = content_url, and /content answers 410 content_expired',
      script: { timeline: [{ atMs: 0, status: 'succeeded', providerStatus: DATA_REMOVED }] },
    },
  ],
  taskPathPrefix: API_PREFIX,
  models: MODELS,
  owns: (id) => PREDICTION_ID.test(id),
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  authorize,
  notFound: () => NOT_FOUND,
  unauthorized: () => INVALID_TOKEN,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return INVALID_TOKEN;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return errorAnswer(status, { detail: STATUS_CODES[status] ?? 'Error' });
  },
  unknownPath: () => NOT_FOUND,
  contentRoute: () => undefined,
  sampleId: predictionIdFrom,
};
