/**
 * MiniMax as its clients see it: the task query `GET /v1/query/video_generation?task_id=`
 * and the file retrieval `GET /v1/files/retrieve?file_id=`, both answering in HTTP 200
 * with a `base_resp` envelope, API errors (a bad key, a rate limit, an unknown task)
 * included. The facts are in docs/providers/minimax.md.
 */
import { STATUS_CODES } from 'node:http';
import {
  ownVariant,
  unixSeconds,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SeedTask,
  type SimRoute,
} from '../../simulators/profile.js';
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, fnv1a, holdsShare, pick } from '../../simulators/timeline.js';
import { INVALID_API_KEY, LOGIN_FAILED, MINIMAX_NAME, RATE_LIMITED } from './map.js';

/**
 * `documented`: `file_id` a string in the query and a number in the retrieval, as MiniMax
 * sends them; `drifted`: the other way round; `retrieve_fails`: the retrieval answers an
 * API error (only when pinned: a default task always gets its file).
 */
export const MINIMAX_VARIANTS = ['documented', 'drifted', 'retrieve_fails'] as const;
type MinimaxVariant = (typeof MINIMAX_VARIANTS)[number];

const QUERY_PATH = '/v1/query/video_generation';
const FILE_PATH = '/v1/files/retrieve';

/** Video tasks have 15 digits, template tasks 18: the ids this simulator has by default. */
const OWNED_ID = /^\d{15,18}$/;

const EXAMPLE_ID = '361720188367060';
/** The file id of the documented example; other tasks' file ids are derived from their ids. */
const SEED_FILE_IDS: ReadonlyMap<string, string> = new Map([[EXAMPLE_ID, '361721749176519']]);
const SEED_TASKS_BY_FILE: ReadonlyMap<string, string> = new Map([...SEED_FILE_IDS].map(([task, file]) => [file, task]));

/** The documented example: processing when first asked, its video ready 6 s later. */
const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'documented',
      model: 'MiniMax-Hailuo-02',
      resultUrl: `https://video-product.cdn.minimax.io/inference_output/video/2026-01-31/${EXAMPLE_ID}/output.mp4`,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 6000, status: 'succeeded' },
      ],
    },
  ],
]);

// MiniMax has no cancel: a canceled story reads as a failure.
const STATUS_WORDS: Record<PhaseStatus, string> = {
  queued: 'Queueing',
  in_progress: 'Processing',
  succeeded: 'Success',
  failed: 'Fail',
  canceled: 'Fail',
};

type BaseResp = { status_code: number; status_msg: string };
const OK: BaseResp = { status_code: 0, status_msg: 'success' };
/** Why a task failed: often nothing (base_resp 0), sometimes the review's verdict. */
const FAILURES: readonly BaseResp[] = [OK, { status_code: 1026, status_msg: 'video generation failed: the output did not pass the content review' }];

/** The answer to a rate-limited call: an HTTP 200 that is not about the task at all. */
export const RATE_LIMITED_BODY = { task_id: '', status: '', base_resp: { status_code: RATE_LIMITED, status_msg: 'rate limit exceeded' } };

const json = JSON.stringify;

function envelopeBody(code: number, message: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...fields, base_resp: { status_code: code, status_msg: message } };
}

function envelope(status: number, code: number, message: string, fields: Record<string, unknown> = {}): ErrorAnswer {
  return { status, body: json(envelopeBody(code, message, fields)) };
}

const LOGIN_FAIL = envelope(200, LOGIN_FAILED, "login fail: Please carry the API secret key in the 'Authorization' field of the request header");
const WRONG_KEY = envelope(200, INVALID_API_KEY, 'invalid api key');
const TASK_NOT_FOUND = envelope(200, 2013, 'invalid params, task not exist', { task_id: '', status: '' });
const FILE_NOT_FOUND_BODY = envelopeBody(2013, 'invalid params, file not exist', { file: null });
const FILE_NOT_FOUND: ErrorAnswer = { status: 200, body: json(FILE_NOT_FOUND_BODY) };
const MISSING_TASK_ID = envelope(200, 2013, 'invalid params, task_id is required', { task_id: '', status: '' });
const RETRIEVE_FAILED_BODY = envelopeBody(1000, 'unknown error', { file: null });

/** Digits after the first five (the time-like head MiniMax's task and file ids share) are shifted by this. */
const FILE_ID_HEAD = 5;
const FILE_DIGIT_SHIFT = 3;

function shiftDigits(id: string, shift: number): string {
  const tail = [...id.slice(FILE_ID_HEAD)].map((character) => (/\d/.test(character) ? String((Number(character) + shift) % 10) : character));
  return id.slice(0, FILE_ID_HEAD) + tail.join('');
}

/** The file id a task's result gets: derived from the task id, so the retrieval finds its way back. */
export function fileIdOfTask(taskId: string): string {
  return SEED_FILE_IDS.get(taskId) ?? shiftDigits(taskId, FILE_DIGIT_SHIFT);
}

/** The task a file id belongs to (the inverse of fileIdOfTask). */
export function taskIdOfFile(fileId: string): string {
  return SEED_TASKS_BY_FILE.get(fileId) ?? shiftDigits(fileId, 10 - FILE_DIGIT_SHIFT);
}

/** A digit string as the JSON number MiniMax's int64 fields are, when a number can hold it exactly. */
function asNumber(digits: string): number | string {
  return /^\d+$/.test(digits) && Number.isSafeInteger(Number(digits)) ? Number(digits) : digits;
}

function renderQuery(variant: MinimaxVariant, input: RenderInput): Record<string, unknown> {
  const { phase, id } = input;
  const body: Record<string, unknown> = { task_id: id, status: phase.providerStatus ?? STATUS_WORDS[phase.status] };
  if (phase.status === 'succeeded') {
    const fileId = fileIdOfTask(id);
    body['file_id'] = variant === 'drifted' ? asNumber(fileId) : fileId;
    const [width, height] = pick(id, 'minimax-size', [[1280, 720], [1920, 1080], [720, 1280]] as const);
    body['video_width'] = width;
    body['video_height'] = height;
  }
  body['base_resp'] = phase.status === 'failed' || phase.status === 'canceled' ? pick(id, 'minimax-failure', FAILURES) : OK;
  return body;
}

function renderFile(variant: MinimaxVariant, input: RenderInput): unknown {
  const { phase, id } = input;
  // A task that has no file yet has no file id either: asking for it is asking for a file that does not exist.
  if (phase.status !== 'succeeded' || input.completedAtMs === undefined) return FILE_NOT_FOUND_BODY;
  if (variant === 'retrieve_fails') return RETRIEVE_FAILED_BODY;
  const fileId = fileIdOfTask(id);
  return {
    file: {
      file_id: variant === 'drifted' ? fileId : asNumber(fileId),
      bytes: 500_000 + draw(id, 'minimax-bytes', 2_000_000),
      created_at: unixSeconds(input.completedAtMs),
      filename: 'output.mp4',
      purpose: 'video_generation',
      download_url: input.resultUrl,
    },
    base_resp: OK,
  };
}

function render(variantName: Variant, input: RenderInput, view?: string): unknown {
  const variant = ownVariant(MINIMAX_NAME, MINIMAX_VARIANTS, variantName);
  return view === 'file' ? renderFile(variant, input) : renderQuery(variant, input);
}

/** A default story says `Preparing` before `Queueing`, as MiniMax's tasks do. */
function decorateTimeline(_variant: Variant, timeline: Phase[]): Phase[] {
  const [first, second, ...rest] = timeline;
  if (first?.status !== 'queued' || second === undefined) return timeline;
  return [{ ...first, providerStatus: 'Preparing' }, { atMs: Math.round(second.atMs / 2), status: 'queued' }, second, ...rest];
}

function route(request: { method: string; path: string; query: URLSearchParams }): SimRoute | undefined {
  if (request.method !== 'GET') return undefined;
  if (request.path === QUERY_PATH) {
    const id = request.query.get('task_id');
    return id === null || id === '' ? { kind: 'answer', answer: MISSING_TASK_ID } : { kind: 'status', id, view: 'query' };
  }
  if (request.path === FILE_PATH) {
    const fileId = request.query.get('file_id');
    return fileId === null || fileId === '' ? { kind: 'answer', answer: FILE_NOT_FOUND } : { kind: 'status', id: taskIdOfFile(fileId), view: 'file' };
  }
  return undefined;
}

export const profile: ProviderProfile = {
  name: MINIMAX_NAME,
  variants: MINIMAX_VARIANTS,
  seeds: SEEDS,
  // Qualified: a bare numeric id is asked of every provider with numeric ids.
  demo: [
    {
      id: `minimax:${EXAMPLE_ID}`,
      note: "MiniMax's documented example: Processing when first asked, Success 6 s later, its file found by a second call",
    },
    {
      id: 'minimax:361719676203292',
      note: 'a task that failed: status Fail, with the reason MiniMax gave',
      script: { variant: 'documented', timeline: [{ atMs: 0, status: 'failed' }] },
    },
    {
      id: 'minimax:361700000001002',
      note: 'a rate-limited poll (HTTP 200, base_resp 1002): a 503 upstream_rate_limited, never a failed task',
      script: { raw: { status: 200, body: RATE_LIMITED_BODY } },
    },
  ],
  // The status call with the id as its last part (the benchmarks' direct path, the tests' poll).
  taskPathPrefix: `${QUERY_PATH}?task_id=`,
  models: ['MiniMax-Hailuo-02', 'MiniMax-Hailuo-2.3', 'T2V-01-Director'],
  // Long digit ids are also Kling's, Vidu's and PixVerse's: MiniMax holds its seeds and its share of them.
  owns: (id) => OWNED_ID.test(id) && (SEEDS.has(id) || holdsShare('digits', MINIMAX_NAME, id)),
  // A failing retrieval is a story to pin, never a default one.
  variantFor: (id) => pick(id, 'minimax-variant', ['documented', 'drifted']),
  decorateTimeline,
  render,
  route,
  authorize(request, credentials) {
    const header = request.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ') || header.length === 'Bearer '.length) return LOGIN_FAIL;
    return header === `Bearer ${credentials.values['apiKey'] ?? ''}` ? undefined : WRONG_KEY;
  },
  notFound: (view) => (view === 'file' ? FILE_NOT_FOUND : TASK_NOT_FOUND),
  unauthorized: () => LOGIN_FAIL,
  rateLimited: () => ({ status: 200, body: json(RATE_LIMITED_BODY) }),
  errorStatus(status) {
    if (status === 401 || status === 403) return { ...LOGIN_FAIL, status };
    if (status === 429) return { status, body: json(RATE_LIMITED_BODY) };
    return envelope(status, 1000, (STATUS_CODES[status] ?? 'unknown error').toLowerCase());
  },
  unknownPath: () => envelope(404, 1000, '404 page not found'),
  contentRoute: () => undefined,
  sampleId(seed) {
    // 14 digits from two independent hashes of the seed, after MiniMax's leading 3, in MiniMax's share.
    for (let attempt = 0; ; attempt++) {
      const text = attempt === 0 ? seed : `${seed}\u0000${attempt}`;
      const wide = (BigInt(fnv1a(`minimax-high:${text}`)) << 32n) | BigInt(fnv1a(`minimax-low:${text}`));
      const id = `3${(wide % 10n ** 14n).toString().padStart(14, '0')}`;
      if (holdsShare('digits', MINIMAX_NAME, id)) return id;
    }
  },
};
