/**
 * Pure pieces of the vidu adapter: a task body as a TaskDraft (each creation's video and
 * cover image, a sentence for each failure code), and which error answers mean "no such
 * task". Facts in docs/providers/vidu.md.
 */
import type { TaskError } from '../../../schemas/task.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { tryParseJson } from '../http.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, resolveResultUrl, StatusTable, toRfc3339 } from '../normalize.js';
import type { StateOutput, StatusWords, TaskDraft } from '../types.js';
import type { Creation, ViduTask } from './schema.js';

export const VIDU_NAME = 'vidu';

/** `Authorization: Token <key>`: Vidu's own scheme, not Bearer. */
export function tokenHeader(apiKey: string): Record<string, string> {
  return { authorization: `Token ${apiKey}` };
}

/** Vidu's task ids are 10-19 digits; a relay that copies its API may issue UUIDs instead (asked only when qualified). */
export const TASK_ID = /^(?:\d{10,19}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$/;

/** The documented states; Vidu reports no progress and has no canceled state (a stopped task is `failed`, `UserCancelled`). */
export const VIDU_STATUSES: StatusWords = {
  queued: ['created', 'queueing'],
  in_progress: ['processing'],
  succeeded: ['success'],
  failed: ['failed'],
};

const STATUSES = new StatusTable(VIDU_STATUSES);

/**
 * A failed task carries only its `err_code`: the message is the gateway's sentence for
 * that code (docs/providers/vidu.md, "Failures").
 */
export const FAILURE_MESSAGES: ReadonlyMap<string, string> = new Map([
  ['CreationPolicyViolation', 'The generated content was flagged by the content policy'],
  ['TaskPromptPolicyViolation', 'The prompt was flagged by the content policy'],
  ['AuditSubmitIllegal', 'The input did not pass the safety review'],
  ['CreditInsufficient', 'The account did not have enough credits for the task'],
  ['ModelUnavailable', 'The requested model was unavailable, so the task could not run'],
  ['UserCancelled', 'The task was stopped by its owner before it finished'],
  ['ImageDownloadFailure', 'An input image could not be downloaded from its URL'],
  ['ImageFormatInvalid', 'An input image is not in an accepted format'],
  ['PageSizeOutOfRange', "An input image's size or aspect ratio is outside the accepted range"],
  ['ImageCheckBodyJointsFailed', 'No person could be detected in the input image'],
  ['ImageCheckFaceFailed', 'No face could be detected in the input image'],
  ['ImageObjectsUndetected', 'The person or face in the input image is too obstructed'],
  ['InternalServiceFailure', 'The provider failed internally while running the task'],
]);

export const UNKNOWN_CODE_MESSAGE = 'The task failed with a code the gateway has no description for';

/** `{code: err_code, message: <its sentence>}`; a failure without a code gets the gateway's generic one. */
export function toFailure(errCode: string | null | undefined): TaskError {
  const code = firstNonEmptyString(errCode);
  if (code === null) return { ...FAILURE_WITHOUT_DETAILS };
  return { code, message: FAILURE_MESSAGES.get(code) ?? UNKNOWN_CODE_MESSAGE };
}

/**
 * Each creation's video, then its cover image. `watermarked_url` (a relays' addition) is the
 * same video with a watermark: read only when a creation has no `url`.
 */
export function toOutputs(creations: ViduTask['creations'], baseUrl: string): StateOutput[] {
  return (creations ?? []).flatMap((creation: Creation | null | undefined): StateOutput[] => {
    const outputs: StateOutput[] = [];
    const video = resolveResultUrl(creation?.url, baseUrl) ?? resolveResultUrl(creation?.watermarked_url, baseUrl);
    if (video !== null) outputs.push({ type: 'video', url: video });
    const cover = resolveResultUrl(creation?.cover_url, baseUrl);
    if (cover !== null) outputs.push({ type: 'image', url: cover });
    return outputs;
  });
}

export function toTaskDraft(task: ViduTask, context: { nativeId: string; baseUrl: string }): TaskDraft {
  const status = STATUSES.known(task.state);
  return {
    // Only a relay's copy names the task, as a string; a number could have lost digits in JSON.
    provider_task_id: (typeof task.id === 'string' ? firstNonEmptyString(task.id) : null) ?? context.nativeId,
    provider_status: task.state,
    progress: null,
    outputs: status === 'succeeded' ? toOutputs(task.creations, context.baseUrl) : [],
    error: status === 'failed' ? toFailure(task.err_code) : null,
    model: null,
    created_at: toRfc3339(task.created_at),
    // Vidu says neither when a task finished nor when its links expire (24 hours after the answer, per its docs).
    completed_at: null,
  };
}

const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['TaskNotFound', 'CreationNotFound']);
const SAYS_MISSING = /task[\s_-]*not[\s_-]*(?:exist|found)/i;

/** The strings an error body names its error with, in the shapes Vidu and its relays use. */
function errorWords(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const fields = body as Record<string, unknown>;
  const nested = typeof fields.error === 'object' && fields.error !== null ? (fields.error as Record<string, unknown>) : {};
  const candidates = [fields.reason, fields.code, fields.err_code, fields.message, fields.error, nested.reason, nested.code, nested.message];
  return candidates.filter((value): value is string => typeof value === 'string' && value !== '');
}

/**
 * 404 is Vidu's "no such task", whatever its body. Another 4xx whose body names
 * `TaskNotFound` or `CreationNotFound`, or says the task does not exist, is one too (a
 * relay's way of saying it).
 */
export function isNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  if (response.statusCode < 400 || response.statusCode > 499) return false;
  return errorWords(tryParseJson(response.body)).some((word) => NOT_FOUND_CODES.has(word.trim()) || SAYS_MISSING.test(word));
}
