/**
 * gemini as its clients see it: `GET /v1beta/models/{model}/operations/{op}` with the key
 * in `x-goog-api-key` (or `?key=`), answered as Google answers (`done` absent while
 * running) or as relays do (`done: false`, `metadata.progressPercent`); done with samples,
 * with an `error`, or with nothing but the safety filter's reasons. Its videos are
 * `GET /v1beta/files/{id}:download?alt=media`, key required: some served here, others
 * redirected to the task's public file (the CDN origin). Facts in docs/providers/gemini.md.
 */
import { STATUS_CODES } from 'node:http';
import {
  ownVariant,
  simAnswer,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
  type SimCredentials,
  type SimRequest,
  type SimRoute,
} from '../../simulators/profile.js';
import { isTerminal, type Phase, type Variant } from '../../simulators/script.js';
import { draw, pick } from '../../simulators/timeline.js';
import { GEMINI_NAME, OPERATION_NAME } from './map.js';

/** `google`: Google's own answers; `relay`: `done: false` while running, progress, filter fields on `response`. */
export const GEMINI_VARIANTS = ['google', 'relay'] as const;

const API_PREFIX = '/v1beta/';
const DOWNLOAD = /^files\/([A-Za-z0-9]+):download$/;
/** The view of a redirected download: answered from the task's phase, like its status. */
const DOWNLOAD_VIEW = 'download';
const RESPONSE_TYPE = 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse';

/** docs/providers/gemini.md's example operation (a relay's), with its file id. */
const EXAMPLE_ID = 'models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1';
const SEED_FILES: ReadonlyMap<string, string> = new Map([[EXAMPLE_ID, 'abc123']]);
const SEED_FILE_TASKS: ReadonlyMap<string, string> = new Map([...SEED_FILES].map(([task, file]) => [file, task]));

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'relay',
      model: 'veo-3.1-generate-preview',
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 20_000, status: 'succeeded' },
      ],
    },
  ],
]);

const json = JSON.stringify;

interface RpcStatus {
  code?: number;
  message: string;
  status: string;
}

function googleError(status: number, error: RpcStatus & { details?: unknown[] }): ErrorAnswer {
  return { status, body: json({ error: { code: status, ...error } }) };
}

const NOT_FOUND = googleError(404, { message: 'Requested entity was not found.', status: 'NOT_FOUND' });
const MISSING_KEY = googleError(403, {
  message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  status: 'PERMISSION_DENIED',
});
const INVALID_KEY = googleError(400, {
  message: 'API key not valid. Please pass a valid API key.',
  status: 'INVALID_ARGUMENT',
  details: [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' },
    },
  ],
});
const NOT_OAUTH = googleError(401, {
  message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
  status: 'UNAUTHENTICATED',
});
const RATE_LIMITED = googleError(429, { message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' });
const HTTP_ERRORS: Readonly<Record<number, RpcStatus>> = {
  400: { message: 'Request contains an invalid argument.', status: 'INVALID_ARGUMENT' },
  401: { message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' },
  403: { message: 'The caller does not have permission', status: 'PERMISSION_DENIED' },
  500: { message: 'An internal error has occurred. Please retry.', status: 'INTERNAL' },
  503: { message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' },
  504: { message: 'The request timed out. Please try again.', status: 'DEADLINE_EXCEEDED' },
};

/**
 * A failed operation's `error`, by the name a pinned phase gives in `providerStatus` (an
 * operation has no status word of its own, so that field names the failure instead);
 * `filtered` is the safety filter. A name outside these is sent as a bare `status`.
 */
const FILTERED = 'filtered';
const FAILURES: Readonly<Record<string, RpcStatus>> = {
  INVALID_ARGUMENT: { code: 3, message: 'Unsupported aspect ratio', status: 'INVALID_ARGUMENT' },
  INTERNAL: { code: 13, message: 'Video generation failed due to an internal error. Please try again.', status: 'INTERNAL' },
};
const CANCELLED: RpcStatus = { code: 1, message: 'Operation was cancelled.', status: 'CANCELLED' };
const FILTER_REASONS = [
  'We encountered an issue with the audio for your prompt, please try a different prompt. You have not been charged for this attempt.',
  "The video could not be generated because it violates Google's Generative AI Prohibited Use policy. You have not been charged for this attempt.",
];

/** Which ids' downloads redirect to the public file rather than being served here (half, by hash). */
export function redirectsDownload(taskId: string): boolean {
  return draw(taskId, 'gemini-download', 2) === 0;
}

/** The file id of a task's video: the seed's own, else the name in hex (so the download finds its task). */
export function fileIdOf(taskId: string): string {
  return SEED_FILES.get(taskId) ?? Buffer.from(taskId, 'utf8').toString('hex');
}

function taskOfFile(fileId: string): string | undefined {
  const seeded = SEED_FILE_TASKS.get(fileId);
  if (seeded !== undefined) return seeded;
  if (!/^(?:[0-9a-f]{2})+$/.test(fileId)) return undefined;
  const name = Buffer.from(fileId, 'hex').toString('utf8');
  return OPERATION_NAME.test(name) ? name : undefined;
}

function decodedName(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/**
 * The status call, with the name's slashes as path separators (or sent as one encoded
 * segment, as tools that treat the name as an opaque id do), and the file downloads.
 */
function route(request: SimRequest): SimRoute | undefined {
  if (!request.path.startsWith(API_PREFIX)) return undefined;
  const rest = request.path.slice(API_PREFIX.length);
  const download = DOWNLOAD.exec(rest);
  if (download !== null) {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    const id = taskOfFile(download[1]!);
    if (id === undefined) return { kind: 'answer', answer: NOT_FOUND };
    return redirectsDownload(id) ? { kind: 'status', id, view: DOWNLOAD_VIEW } : { kind: 'content', id, asset: 'sample.webm' };
  }
  const name = decodedName(rest);
  return request.method === 'GET' && name !== undefined && OPERATION_NAME.test(name) ? { kind: 'status', id: name } : undefined;
}

/** Google's key check: the header or `?key=`; none at all is a 403, a wrong one a 400, a Bearer token is no key. */
function authorize(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined {
  const header = request.headers['x-goog-api-key'];
  const given = (Array.isArray(header) ? header[0] : header) ?? request.query.get('key') ?? '';
  if (given === '') return request.headers.authorization === undefined ? MISSING_KEY : NOT_OAUTH;
  return given === (credentials.values['apiKey'] ?? '') ? undefined : INVALID_KEY;
}

function failureOf(id: string, phase: Phase): RpcStatus | typeof FILTERED {
  const named = phase.providerStatus;
  if (named === FILTERED) return FILTERED;
  if (named !== undefined) return Object.hasOwn(FAILURES, named) ? FAILURES[named]! : { message: 'The operation failed.', status: named };
  if (id.includes('filter')) return FILTERED;
  return pick(id, 'gemini-failure', [FILTERED, FAILURES['INVALID_ARGUMENT']!, FAILURES['INTERNAL']!]);
}

/** The safety filter's answer: inside `generateVideoResponse` at Google, on `response` itself at relays. */
function filteredResponse(variant: (typeof GEMINI_VARIANTS)[number], id: string): Record<string, unknown> {
  const fields = { raiMediaFilteredCount: 1, raiMediaFilteredReasons: [pick(id, 'gemini-filter-reason', FILTER_REASONS)] };
  return variant === 'google' ? { '@type': RESPONSE_TYPE, generateVideoResponse: fields } : fields;
}

function render(variantName: Variant, input: RenderInput, view?: string): unknown {
  const variant = ownVariant(GEMINI_NAME, GEMINI_VARIANTS, variantName);
  const { phase, id } = input;
  if (view === DOWNLOAD_VIEW) {
    return phase.status === 'succeeded' ? simAnswer(302, '', { location: input.resultUrl }) : simAnswer(NOT_FOUND.status, JSON.parse(NOT_FOUND.body));
  }
  const body: Record<string, unknown> = { name: id };
  if (!isTerminal(phase.status)) {
    if (variant === 'relay') {
      body['done'] = false;
      // docs/providers/gemini.md's example shows no progress: seeds keep its shape.
      if (!input.seeded) body['metadata'] = { progressPercent: Math.round(phase.progress ?? 0) };
    }
    return body;
  }
  body['done'] = true;
  if (phase.status === 'canceled') return { ...body, error: CANCELLED };
  if (phase.status === 'failed') {
    const failure = failureOf(id, phase);
    return failure === FILTERED ? { ...body, response: filteredResponse(variant, id) } : { ...body, error: failure };
  }
  const generateVideoResponse = { generatedSamples: [{ video: { uri: `${input.baseUrl}/v1beta/files/${fileIdOf(id)}:download?alt=media` } }] };
  return { ...body, response: variant === 'google' ? { '@type': RESPONSE_TYPE, generateVideoResponse } : { generateVideoResponse } };
}

/** A seed's characters as an operation segment: `a`-`y` and digits kept, every other byte `z` + two hex digits (one seed, one id). */
function operationSegment(seed: string): string {
  let segment = '';
  for (const byte of Buffer.from(seed, 'utf8')) {
    const character = String.fromCharCode(byte);
    segment += /[a-y0-9]/.test(character) ? character : `z${byte.toString(16).padStart(2, '0')}`;
  }
  // No other seed gives a lone "z": every escape is three characters.
  return segment === '' ? 'z' : segment;
}

export const profile: ProviderProfile = {
  name: GEMINI_NAME,
  variants: GEMINI_VARIANTS,
  seeds: SEEDS,
  demo: [
    { id: EXAMPLE_ID, note: 'a Veo operation (its id percent-encoded as one segment): running, done ~20 s after its first poll, its video then through the gateway' },
    {
      id: 'models/veo-3.0-generate-001/operations/demofiltered01',
      note: "done with no video: Veo's safety filter, a failed task with content_filtered and the filter's reason",
      script: { variant: 'google', timeline: [{ atMs: 0, status: 'failed', providerStatus: FILTERED }] },
    },
  ],
  taskPathPrefix: API_PREFIX,
  models: ['veo-3.1-generate-preview', 'veo-3.1-fast-generate-preview', 'veo-3.0-generate-001'],
  owns: (id) => OPERATION_NAME.test(id),
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  route,
  authorize,
  clientHeaders: (credentials) => ({ 'x-goog-api-key': credentials.values['apiKey'] ?? '' }),
  sampleId: (seed) => `models/veo-3.1-generate-preview/operations/${operationSegment(seed)}`,
  notFound: () => NOT_FOUND,
  unauthorized: () => INVALID_KEY,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    const known = HTTP_ERRORS[status];
    return googleError(status, known ?? { message: STATUS_CODES[status] ?? 'Error', status: status >= 500 ? 'UNKNOWN' : 'FAILED_PRECONDITION' });
  },
  unknownPath: () => googleError(404, { message: 'Method not found.', status: 'NOT_FOUND' }),
  contentRoute: () => undefined,
};
