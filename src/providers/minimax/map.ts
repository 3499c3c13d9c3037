/**
 * Pure pieces of the MiniMax lookup: what a `base_resp` envelope means, the `file_id` to
 * ask for, and the TaskDraft made of the two answers (finalizeTask does the rest). The
 * facts are in docs/providers/minimax.md.
 */
import { GatewayError } from '../../errors.js';
import { getHeader, retryAfterSeconds, tryParseJson } from '../http.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, resolveResultUrl, StatusTable, toRfc3339 } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import type { BaseResp, FileBody, QueryBody } from './schema.js';

export const MINIMAX_NAME = 'minimax';

/** The official list of task states; MiniMax reports no progress and has no cancel. */
export const MINIMAX_STATUSES: StatusWords = {
  queued: ['Preparing', 'Queueing'],
  in_progress: ['Processing'],
  succeeded: ['Success'],
  failed: ['Fail'],
};

const STATUSES = new StatusTable(MINIMAX_STATUSES);

/** `base_resp.status_code` values that are about the call, never about the task. */
export const RATE_LIMITED = 1002;
export const LOGIN_FAILED = 1004;
export const INSUFFICIENT_BALANCE = 1008;
export const INVALID_API_KEY = 2049;
const CALL_LEVEL_CODES: ReadonlySet<number> = new Set([RATE_LIMITED, LOGIN_FAILED, INSUFFICIENT_BALANCE, INVALID_API_KEY]);

/** How an unknown task is worded (the answer is an HTTP 200; see docs/providers/minimax.md, "Unknown tasks"). */
const MISSING_TEXT = /not[ _-]?(?:exist|found)|does ?n[o']?t exist|no such task/i;

/** Which of the lookup's two calls an answer is. */
export type MinimaxCall = 'query' | 'file';

/**
 * `base_resp.status_code` as a number: absent or empty is 0 (success); a code that is not
 * a number at all is NaN, an error of unknown kind.
 */
export function statusCodeOf(baseResp: BaseResp | null | undefined): number {
  const code = baseResp?.status_code;
  if (code === undefined || code === null) return 0;
  if (typeof code === 'number') return code;
  const text = code.trim();
  return text === '' ? 0 : /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

/** Does this non-2xx answer of the task query mean "no such task"? 404, or a `status_msg` saying so. */
export function isQueryNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  const body = tryParseJson(response.body);
  const baseResp = typeof body === 'object' && body !== null ? (body as { base_resp?: unknown }).base_resp : undefined;
  const message = typeof baseResp === 'object' && baseResp !== null ? (baseResp as { status_msg?: unknown }).status_msg : undefined;
  return typeof message === 'string' && MISSING_TEXT.test(message);
}

/**
 * The GatewayError a non-zero `base_resp` means, or undefined for success. Never a task
 * failure: a rate limit while polling must leave the task as it was.
 */
export function envelopeError(baseResp: BaseResp | null | undefined, call: MinimaxCall, response: UpstreamResponse): GatewayError | undefined {
  const code = statusCodeOf(baseResp);
  if (code === 0) return undefined;
  const provider = MINIMAX_NAME;
  const cause = { call, base_resp: baseResp };
  const shown = Number.isSafeInteger(code) ? ` (base_resp ${code})` : '';
  if (code === RATE_LIMITED) {
    return new GatewayError('upstream_rate_limited', {
      provider,
      cause,
      retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
      detail: `${provider} is rate limiting the gateway${shown}`,
    });
  }
  if (code === LOGIN_FAILED || code === INVALID_API_KEY) {
    return new GatewayError('upstream_auth_failed', { provider, cause, detail: `${provider} rejected the gateway's credentials${shown}` });
  }
  if (code === INSUFFICIENT_BALANCE) {
    // The key is valid; the account needs money: an operator's problem, like an outage to the client.
    return new GatewayError('upstream_error', { provider, cause, detail: `${provider} says the account's balance is insufficient${shown}` });
  }
  if (call === 'query' && MISSING_TEXT.test(baseResp?.status_msg ?? '')) {
    return new GatewayError('task_not_found', { provider, cause, detail: `${provider} has no task with this id` });
  }
  if (call === 'file') {
    return new GatewayError('upstream_error', { provider, cause, detail: `${provider} could not retrieve the result file of a succeeded task${shown}` });
  }
  return new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered with an API error${shown}` });
}

/** A `Fail` the query reports: a task failure, unless the envelope is about the call itself. */
export function isTaskFailure(query: QueryBody): boolean {
  return STATUSES.known(query.status ?? '') === 'failed' && !CALL_LEVEL_CODES.has(statusCodeOf(query.base_resp));
}

export function isSucceeded(query: QueryBody): boolean {
  return STATUSES.known(query.status ?? '') === 'succeeded';
}

const FILE_ID_NUMBER = /"file_id"\s*:\s*(\d+)/;

/**
 * The `file_id` to retrieve, as text: a string as MiniMax sends it, or a number (the other
 * reading of its type drift); a number past 2^53 is read from the raw body, whose digits
 * JSON.parse would have rounded.
 */
export function fileIdOf(query: QueryBody, rawBody: string): string | null {
  const fileId = query.file_id;
  if (typeof fileId === 'string') return firstNonEmptyString(fileId);
  if (typeof fileId !== 'number' || !Number.isInteger(fileId) || fileId <= 0) return null;
  if (Number.isSafeInteger(fileId)) return String(fileId);
  return FILE_ID_NUMBER.exec(rawBody)?.[1] ?? null;
}

function failureOf(query: QueryBody): TaskDraft['error'] {
  // base_resp 0 says the call went well ("success"), not why the task failed.
  const message = statusCodeOf(query.base_resp) === 0 ? null : firstNonEmptyString(query.base_resp?.status_msg);
  return { code: FAILURE_WITHOUT_DETAILS.code, message: message ?? FAILURE_WITHOUT_DETAILS.message };
}

/** The task as the query reports it, and once it succeeded, with the retrieved file. */
export function toTaskDraft(query: QueryBody, file: FileBody | undefined, context: { nativeId: string; baseUrl: string }): TaskDraft {
  const url = resolveResultUrl(file?.file?.download_url, context.baseUrl);
  return {
    provider_task_id: typeof query.task_id === 'string' ? (firstNonEmptyString(query.task_id) ?? context.nativeId) : context.nativeId,
    provider_status: query.status ?? '',
    progress: null,
    outputs: url === null ? [] : [{ type: 'video', url }],
    error: isTaskFailure(query) ? failureOf(query) : null,
    model: null,
    created_at: null,
    // The file's creation (Unix seconds) is the nearest MiniMax says to when the task finished.
    completed_at: toRfc3339(file?.file?.created_at),
  };
}
