/**
 * Pure pieces of the ark adapter: the id forms, the status call's path, a task as a
 * TaskDraft (finalizeTask does the rest), and what an Ark error that is no task's failure
 * means for the gateway. Facts in docs/providers/ark.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { getHeader, retryAfterSeconds, tryParseJson } from '../http.js';
import { firstNonEmptyString, resolveResultUrl, StatusTable, toRfc3339, toTaskError } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import { ErrorEnvelopeSchema, type ArkError, type ArkTask } from './schema.js';

export const ARK_NAME = 'ark';

export const ARK_STATUS_WORDS: StatusWords = {
  queued: ['queued', 'pending'],
  in_progress: ['running', 'processing'],
  succeeded: ['succeeded'],
  failed: ['failed', 'expired'],
  canceled: ['cancelled', 'canceled'],
};

const STATUSES = new StatusTable(ARK_STATUS_WORDS);

/** Ark's ids: `cgt-` + the creation time (`YYYYMMDDhhmmss`) + `-` + 5 of `[a-z0-9]`, e.g. `cgt-20250331175019-68d9t`. */
export const ARK_ID_RULE = '^cgt-\\d{14}-[a-z0-9]{5}$';
export const ARK_ID = new RegExp(ARK_ID_RULE);
/** What the gateway sends upstream: looser than Ark's form, so `ark:<id>` keeps working should the form grow. */
export const ARK_NATIVE_ID = /^cgt-[A-Za-z0-9_-]{1,200}$/;

export const EXPIRED_CODE = 'expired';
/** Said for an `expired` task that came without an error of its own. */
export const EXPIRED_MESSAGE = 'The task timed out before it ran: Ark expired it once its execution timeout passed.';

const API_ROOT = '/api/v3';
const TASKS_PATH = '/contents/generations/tasks';

/**
 * The status call's path under the base URL, and its template for spans. Ark's SDKs take
 * a base URL ending in `/api/v3`: one set that way is not given the root a second time.
 */
export function taskRequest(baseUrl: string, nativeId: string): { path: string; template: string } {
  const basePath = URL.canParse(baseUrl) ? new URL(baseUrl).pathname.replace(/\/+$/, '') : '';
  const prefix = basePath.endsWith(API_ROOT) ? TASKS_PATH : `${API_ROOT}${TASKS_PATH}`;
  return { path: `${prefix}/${encodeURIComponent(nativeId)}`, template: `${prefix}/{id}` };
}

/**
 * A result URL as the client gets it: resolveResultUrl keeps an absolute link byte for
 * byte, which Ark's signed links with UTF-8 filename metadata need (docs/providers/ark.md,
 * "Result files"), and makes anything else a proper URL.
 */
export function resultUrl(value: unknown, baseUrl: string): string | null {
  return resolveResultUrl(value, baseUrl);
}

export interface TaskContext {
  nativeId: string;
  /** Relative result URLs resolve against it. */
  baseUrl: string;
}

function toOutputs(task: ArkTask, context: TaskContext): TaskOutput[] {
  const outputs: TaskOutput[] = [];
  const video = resultUrl(task.content?.video_url, context.baseUrl);
  if (video !== null) outputs.push({ type: 'video', url: video });
  const lastFrame = resultUrl(task.content?.last_frame_url, context.baseUrl);
  if (lastFrame !== null) outputs.push({ type: 'image', url: lastFrame });
  return outputs;
}

/** A failed or expired task's error; an `expired` one without its own says it timed out. */
function toFailure(task: ArkTask & { status: string }): TaskError | null {
  const error = toTaskError(task.error);
  if (error !== null) return error;
  return task.status.trim().toLowerCase() === 'expired' ? { code: EXPIRED_CODE, message: EXPIRED_MESSAGE } : null;
}

/** A task whose status word is there (the lookup checked it). */
export function toTaskDraft(task: ArkTask & { status: string }, context: TaskContext): TaskDraft {
  const status = STATUSES.known(task.status);
  const terminal = status === 'succeeded' || status === 'failed' || status === 'canceled';
  return {
    provider_task_id: firstNonEmptyString(task.id) ?? context.nativeId,
    provider_status: task.status,
    // Ark reports no progress.
    progress: null,
    outputs: status === 'succeeded' ? toOutputs(task, context) : [],
    error: status === 'failed' ? toFailure(task) : null,
    model: firstNonEmptyString(task.model),
    created_at: toRfc3339(task.created_at),
    // A finished task is not touched again: its last update is when it finished.
    completed_at: terminal ? toRfc3339(task.updated_at) : null,
  };
}

const RATE_LIMIT_WORDS = /ratelimit|toomanyrequests|serveroverloaded|quotaexceeded/i;
const CREDENTIAL_WORDS = /authentication|unauthori[sz]ed|accessdenied|forbidden|accountoverdue|apikey/i;
const NOT_FOUND_WORDS = /not_?found|not_?exist/i;

function errorWords(error: ArkError): string {
  return [error.code, error.type].filter((value) => value !== null && value !== undefined).join(' ');
}

/** Does this non-2xx answer mean "no such task"? A 404, or a 400 whose error code says not found. */
export function isNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  if (response.statusCode !== 400) return false;
  const envelope = ErrorEnvelopeSchema.safeParse(tryParseJson(response.body));
  return envelope.success && NOT_FOUND_WORDS.test(String(envelope.data.error.code ?? ''));
}

/** Ark's error envelope answered with HTTP 200 (a relay's habit): never a task's failure. */
export function apiErrorInBody(error: ArkError | string, response: UpstreamResponse): GatewayError {
  const provider = ARK_NAME;
  const cause = { statusCode: response.statusCode, bodyExcerpt: response.body.slice(0, 500) };
  const words = typeof error === 'string' ? '' : errorWords(error);
  if (RATE_LIMIT_WORDS.test(words)) {
    return new GatewayError('upstream_rate_limited', {
      provider,
      cause,
      retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
      detail: `${provider} is rate limiting the gateway`,
    });
  }
  if (CREDENTIAL_WORDS.test(words)) return new GatewayError('upstream_auth_failed', { provider, cause, detail: `${provider} rejected the gateway's credentials` });
  if (NOT_FOUND_WORDS.test(words)) return new GatewayError('task_not_found', { provider, cause, detail: `${provider} has no task with this id` });
  return new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered with an error instead of the task` });
}
