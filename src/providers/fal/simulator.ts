/**
 * fal's queue as its clients see it: `GET /{app}/requests/{id}/status` (202 while queued
 * or running, 200 once done) and `GET /{app}/requests/{id}` (the result, or the request's
 * error as an HTTP error), `Authorization: Key <key>`, with the result shapes and failure
 * shapes of docs/providers/fal.md. Result files are public (the CDN origin when the
 * server is given one).
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { filePath, ownVariant, simAnswer, type ErrorAnswer, type ProviderProfile, type RenderInput, type SeedTask, type SimRequest } from '../../simulators/profile.js';
import type { Variant } from '../../simulators/script.js';
import { defaultOutcome, draw, pick } from '../../simulators/timeline.js';
import { FAL_NATIVE_IDS } from './index.js';
import { FAL_NAME, parseNativeId, QUEUE_NAMESPACES } from './map.js';

/** Result shapes (each a succeeded request's result JSON) and failure shapes. */
const RESULT_VARIANTS = ['video', 'videos', 'images', 'audio'] as const;
const FAILURE_VARIANTS = ['status_error', 'status_failed', 'detail_list', 'detail_string', 'request_error'] as const;
export const FAL_VARIANTS = [...RESULT_VARIANTS, ...FAILURE_VARIANTS] as const;
type FalVariant = (typeof FAL_VARIANTS)[number];
type ResultVariant = (typeof RESULT_VARIANTS)[number];
type FailureVariant = (typeof FAILURE_VARIANTS)[number];

type EndpointKind = 'video' | 'image' | 'audio';

/**
 * The endpoint each simulated app serves. The queue never sees the subpath a request was
 * submitted to, so the simulator keeps a request under its app's endpoint and its request
 * id: asked as `fal-ai/kling-video/<uuid>` or `fal-ai/kling-video/v2.6/…/<uuid>`, it is the
 * task `fal-ai/kling-video/v2.5-turbo/pro/image-to-video/<uuid>`. An app not listed is its
 * own endpoint.
 */
const ENDPOINTS: ReadonlyMap<string, { modelId: string; kind: EndpointKind }> = new Map([
  ['fal-ai/kling-video', { modelId: 'fal-ai/kling-video/v2.5-turbo/pro/image-to-video', kind: 'video' }],
  ['fal-ai/veo3', { modelId: 'fal-ai/veo3/fast', kind: 'video' }],
  ['fal-ai/flux', { modelId: 'fal-ai/flux/dev', kind: 'image' }],
  ['fal-ai/stable-audio', { modelId: 'fal-ai/stable-audio', kind: 'audio' }],
]);

const RESULT_VARIANTS_BY_KIND: Readonly<Record<EndpointKind | 'any', readonly ResultVariant[]>> = {
  video: ['video', 'videos'],
  image: ['images'],
  audio: ['audio'],
  any: RESULT_VARIANTS,
};

const KLING_MODEL = 'fal-ai/kling-video/v2.5-turbo/pro/image-to-video';
/** docs/providers/fal.md's example request: 3 ahead in the queue, then running, then its video. */
const EXAMPLE_ID = `${KLING_MODEL}/6f1c2b7e-3d4a-4b8e-9c2f-5a1d7e0b4c93`;
/** fal's docs' example request id, here a request the model refused (docs/providers/fal.md's 422). */
const REFUSED_ID = `${KLING_MODEL}/80e732af-660e-45cd-bd63-580e4f2a94cc`;
const EXAMPLE_FILE_SIZE = 4_123_456;
const EXAMPLE_QUEUE_POSITION = 3;

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'video',
      model: KLING_MODEL,
      resultUrl: 'https://v3.fal.media/files/rabbit/Xq1u7Yp2Lk9dVb3N_out.mp4',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 3000, status: 'in_progress' },
        { atMs: 10_000, status: 'succeeded' },
      ],
    },
  ],
  [
    REFUSED_ID,
    {
      variant: 'detail_list',
      model: KLING_MODEL,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 4000, status: 'failed' },
      ],
    },
  ],
]);

const VALIDATION_ERRORS = [
  { loc: ['body', 'prompt'], msg: 'The content could not be processed because it contained material flagged by a content checker.', type: 'content_policy_violation' },
  { loc: ['body', 'image_url'], msg: 'Failed to load the image. Please ensure the image file is not corrupted and is in a supported format.', type: 'image_load_error' },
  { loc: ['body', 'duration'], msg: "Input should be '5' or '10'", type: 'literal_error' },
] as const;
const SEED_VALIDATION_ERROR = { loc: ['body', 'prompt'], msg: 'content flagged', type: 'content_policy_violation' } as const;
const DETAIL_STRINGS = ['Prompt is too long for this model.', 'Image dimensions are too small: the minimum is 300x300 pixels.'] as const;
/** Request errors fal types (its request-error reference), with the status each typically comes with. */
const REQUEST_ERRORS = [
  { error_type: 'request_timeout', status: 504, detail: 'Request timed out' },
  { error_type: 'runner_scheduling_failure', status: 503, detail: 'No runner could be allocated to handle the request' },
  { error_type: 'runner_disconnected', status: 503, detail: 'Runner disconnected during processing' },
  { error_type: 'runner_server_error', status: 500, detail: 'Internal error on the runner' },
] as const;

const json = JSON.stringify;
const errorAnswer = (status: number, detail: string): ErrorAnswer => ({ status, body: json({ detail }) });
const NOT_FOUND = errorAnswer(404, 'Request not found');
const UNAUTHORIZED = errorAnswer(401, 'No user found for Key ID and Secret');
const RATE_LIMITED = errorAnswer(429, 'Too many concurrent requests for this user');
const LOCKED = errorAnswer(403, 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.');

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;
const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** The id a request is kept under: its app's endpoint, then its request id. */
function taskKey(app: string, requestId: string): string {
  return `${ENDPOINTS.get(app)?.modelId ?? app}/${requestId}`;
}

/**
 * `/{app}/requests/{uuid}/status` or `/{app}/requests/{uuid}`, with the app exactly two
 * segments (three under `workflows/` and `comfy/`): an app path with a subpath in it is no
 * route here (a 404), so a client that sends one is caught.
 */
function route(request: SimRequest) {
  if (request.method !== 'GET') return undefined;
  const segments = request.path.split('/').slice(1);
  const view = segments.at(-1) === 'status' ? 'status' : 'result';
  const end = view === 'status' ? segments.length - 1 : segments.length;
  const requestId = segments[end - 1] ?? '';
  const app = segments.slice(0, Math.max(end - 2, 0));
  if (segments[end - 2] !== 'requests' || !UUID.test(requestId) || !app.every((segment) => SAFE_SEGMENT.test(segment))) return undefined;
  if (app.length !== (QUEUE_NAMESPACES.has(app[0] ?? '') ? 3 : 2)) return undefined;
  return { kind: 'status' as const, id: taskKey(app.join('/'), requestId), view };
}

function endpointKind(id: string): EndpointKind | 'any' {
  return ENDPOINTS.get(parseNativeId(id).app)?.kind ?? 'any';
}

/** A failing story shows a failure shape, a succeeding one the result shape its model makes. */
function variantFor(id: string): Variant {
  if (defaultOutcome(id) === 'failed') return pick(id, 'fal-failure', FAILURE_VARIANTS);
  return pick(id, 'fal-result', RESULT_VARIANTS_BY_KIND[endpointKind(id)]);
}

/** A pinned story may fail under a result variant, or succeed under a failure one. */
function failureShape(variant: FalVariant, id: string): FailureVariant {
  return (FAILURE_VARIANTS as readonly string[]).includes(variant) ? (variant as FailureVariant) : pick(id, 'fal-failure', FAILURE_VARIANTS);
}

function resultShape(variant: FalVariant): ResultVariant {
  return (RESULT_VARIANTS as readonly string[]).includes(variant) ? (variant as ResultVariant) : 'video';
}

function requestError(input: RenderInput) {
  return pick(input.id, 'fal-request-error', REQUEST_ERRORS);
}

function renderStatus(variant: FalVariant, input: RenderInput) {
  const { phase, id } = input;
  const { app, requestId } = parseNativeId(id);
  const responseUrl = `${input.baseUrl}/${app}/requests/${requestId}`;
  const urls = { response_url: responseUrl, status_url: `${responseUrl}/status`, cancel_url: `${responseUrl}/cancel` };
  const word = (standard: string) => phase.providerStatus ?? standard;
  const completed = () => {
    const seconds = input.startedAtMs === undefined || input.completedAtMs === undefined ? null : (input.completedAtMs - input.startedAtMs) / 1000;
    return { status: word('COMPLETED'), request_id: requestId, ...urls, logs: null, metrics: { inference_time: seconds === null ? null : Math.round(seconds * 10) / 10 } };
  };
  switch (phase.status) {
    case 'queued': {
      const position = input.seeded ? EXAMPLE_QUEUE_POSITION : pick(id, 'fal-queue-position', [0, 1, 2, 4, 7]);
      return simAnswer(202, { status: word('IN_QUEUE'), request_id: requestId, queue_position: position, ...urls });
    }
    case 'in_progress':
      return simAnswer(202, { status: word('IN_PROGRESS'), request_id: requestId, ...urls, logs: null });
    case 'succeeded':
      return simAnswer(200, completed());
    case 'canceled':
      return simAnswer(200, { status: word(pick(id, 'fal-cancel-word', ['CANCELLED', 'CANCELED'])), request_id: requestId, ...urls, logs: null });
    case 'failed': {
      const shape = failureShape(variant, id);
      const error = requestError(input);
      if (shape === 'status_error') return simAnswer(200, { ...completed(), error: error.detail, error_type: error.error_type });
      if (shape === 'status_failed') return simAnswer(200, { status: word('FAILED'), request_id: requestId, ...urls, logs: null, error: error.detail });
      // The other shapes say COMPLETED here: the error is the result call's answer.
      return simAnswer(200, completed());
    }
  }
}

function extensionOf(url: string): string {
  const path = URL.canParse(url) ? new URL(url).pathname : url;
  return path.slice(path.lastIndexOf('.') + 1).toLowerCase();
}

/** fal's File: the result URL, its type as the file's kind and extension say, its name. */
function resultFile(url: string, kind: 'video' | 'audio', input: RenderInput) {
  const path = URL.canParse(url) ? new URL(url).pathname.replaceAll('%2F', '/') : url;
  const file = { url, content_type: `${kind}/${extensionOf(url)}`, file_name: path.slice(path.lastIndexOf('/') + 1) };
  return input.seeded ? { ...file, file_size: EXAMPLE_FILE_SIZE } : file;
}

function resultBody(shape: ResultVariant, input: RenderInput): unknown {
  const { id, resultUrl } = input;
  switch (shape) {
    case 'video':
      return input.seeded ? { video: resultFile(resultUrl, 'video', input) } : { video: resultFile(resultUrl, 'video', input), seed: draw(id, 'fal-seed', 2 ** 31) };
    case 'videos':
      return { videos: [resultFile(resultUrl, 'video', input)] };
    case 'images':
      return {
        images: [{ url: `${input.baseUrl}${filePath(id, 'webp')}`, content_type: 'image/webp', width: 320, height: 180 }],
        has_nsfw_concepts: [false],
        prompt: 'a lighthouse at dusk, film grain',
      };
    case 'audio':
      // Audio models name the file `audio` or `audio_file`; both are read.
      return { [pick(id, 'fal-audio-key', ['audio', 'audio_file'])]: resultFile(resultUrl, 'audio', input) };
  }
}

function failureAnswer(shape: FailureVariant, input: RenderInput) {
  const { id } = input;
  if (shape === 'detail_list') {
    return simAnswer(422, { detail: [input.seeded ? SEED_VALIDATION_ERROR : pick(id, 'fal-validation', VALIDATION_ERRORS)] });
  }
  if (shape === 'detail_string') return simAnswer(422, { detail: pick(id, 'fal-detail', DETAIL_STRINGS) });
  const error = requestError(input);
  return simAnswer(error.status, { detail: error.detail, error_type: error.error_type }, { 'X-Fal-Error-Type': error.error_type });
}

function renderResult(variant: FalVariant, input: RenderInput) {
  switch (input.phase.status) {
    case 'queued':
    case 'in_progress':
      return simAnswer(400, { detail: 'Request is still in progress' });
    case 'canceled':
      return simAnswer(400, { detail: 'Request was cancelled' });
    case 'succeeded':
      return resultBody(resultShape(variant), input);
    case 'failed':
      return failureAnswer(failureShape(variant, input.id), input);
  }
}

/** A UUID (v4 form) made from `seed`: distinct seeds, distinct request ids. */
function uuidFrom(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  const variantDigit = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variantDigit}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export const profile: ProviderProfile = {
  name: FAL_NAME,
  variants: FAL_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: `fal:${EXAMPLE_ID}`,
      note: "fal's queue (always a qualified id: model id, then request id): queued 3 ahead, running at 3 s, its public video file at 10 s",
    },
    {
      id: `fal:${REFUSED_ID}`,
      note: 'COMPLETED is not success at fal: this result call answers 422 content_policy_violation, so the task failed',
    },
    {
      id: 'fal:fal-ai/flux/dev/0b9e4c1a-5f3d-4e2b-8a7c-6d1f9e3b2a54',
      note: 'an image model on fal: its result lists images[]',
      script: { variant: 'images', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
  ],
  // The queue path holds the id inside it (`route` decides); this is where the Kling app's requests live.
  taskPathPrefix: '/fal-ai/kling-video/requests/',
  models: [...ENDPOINTS.values()].map((endpoint) => endpoint.modelId),
  owns: (id) => FAL_NATIVE_IDS.pattern.test(id),
  variantFor,
  decorateTimeline: (_variant, timeline) => timeline,
  render(variantName, input, view) {
    const variant = ownVariant(FAL_NAME, FAL_VARIANTS, variantName);
    return view === 'result' ? renderResult(variant, input) : renderStatus(variant, input);
  },
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => RATE_LIMITED,
  // Faults are fal's API failing, not a request's outcome: no error type on them.
  errorStatus(status) {
    if (status === 401) return UNAUTHORIZED;
    if (status === 403) return LOCKED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return errorAnswer(status, STATUS_CODES[status] ?? 'Error');
  },
  unknownPath: () => errorAnswer(404, 'Not Found'),
  contentRoute: () => undefined,
  route,
  authorize: (request, credentials) => (request.headers.authorization === `Key ${credentials.values['apiKey'] ?? ''}` ? undefined : UNAUTHORIZED),
  clientHeaders: (credentials) => ({ authorization: `Key ${credentials.values['apiKey'] ?? ''}` }),
  sampleId: (seed) => `${KLING_MODEL}/${uuidFrom(seed)}`,
};
