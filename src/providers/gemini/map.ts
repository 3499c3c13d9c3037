/**
 * Pure pieces of the gemini adapter: the form of an operation name, an operation as a
 * TaskDraft (its status decided here, from `done` and what came with it), and what a
 * Google error that is no task's failure means for the gateway. Facts in
 * docs/providers/gemini.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import { GatewayError } from '../../errors.js';
import { retryAfterSeconds } from '../http.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, resolveResultUrl, toProgress, toTaskError } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import type { Operation, RpcStatus } from './schema.js';

export const GEMINI_NAME = 'gemini';

/**
 * An operation has no status word: the gateway says `running` until `done`, then `done`
 * (succeeded or failed, decided by the draft). The table only names the two words.
 */
export const GEMINI_STATUS_WORDS: StatusWords = { in_progress: ['running'], succeeded: ['done'] };

/**
 * One segment of an operation name: safe characters only, and never `.` or `..`, so a
 * name placed into the upstream path cannot walk it.
 */
const SEGMENT = String.raw`(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+`;
/** `models/{model}/operations/{operation}`, e.g. `models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1`. */
export const OPERATION_NAME = new RegExp(`^models/(${SEGMENT})/operations/(${SEGMENT})$`);

export interface OperationName {
  model: string;
  operation: string;
}

export function parseOperationName(name: string): OperationName | undefined {
  const match = OPERATION_NAME.exec(name);
  return match === null ? undefined : { model: match[1]!, operation: match[2]! };
}

/** The status call's path: the name's slashes are real separators upstream, each segment URL-encoded. */
export function operationPath({ model, operation }: OperationName): string {
  return `/v1beta/models/${encodeURIComponent(model)}/operations/${encodeURIComponent(operation)}`;
}

export const FILTERED_CODE = 'content_filtered';
/** Said when the safety filter removed the videos without giving a reason. */
export const FILTERED_MESSAGE = "The provider's safety filter withheld the generated video; no result was returned.";

export interface OperationContext {
  nativeId: string;
  model: string;
  /** Relative video URIs resolve against it. */
  baseUrl: string;
}

/** A failed operation's `error`: its code (a number as text, else its status name) and message. */
export function toFailure(error: string | RpcStatus): TaskError | null {
  if (typeof error === 'string') return toTaskError(error);
  const code = typeof error.code === 'number' && Number.isFinite(error.code) ? String(error.code) : firstNonEmptyString(error.code, error.status);
  const message = firstNonEmptyString(error.message);
  if (code === null && message === null) return null;
  return { code: code ?? FAILURE_WITHOUT_DETAILS.code, message: message ?? FAILURE_WITHOUT_DETAILS.message };
}

function firstReason(reasons: readonly unknown[] | null | undefined): string | null {
  return firstNonEmptyString(...(reasons ?? []));
}

/** The safety filter's answer: its first reason, wherever it sits, or a sentence saying so. */
function filtered(response: Operation['response']): TaskError {
  const reason = firstReason(response?.generateVideoResponse?.raiMediaFilteredReasons) ?? firstReason(response?.raiMediaFilteredReasons);
  return { code: FILTERED_CODE, message: reason ?? FILTERED_MESSAGE };
}

export function toTaskDraft(operation: Operation, context: OperationContext): TaskDraft {
  const draft: TaskDraft = {
    provider_task_id: context.nativeId,
    provider_status: 'running',
    status: 'in_progress',
    progress: toProgress(operation.metadata?.progressPercent, 'percent'),
    outputs: [],
    error: null,
    model: context.model,
    created_at: null,
    completed_at: null,
  };
  if (operation.done !== true) return draft;
  if (operation.error !== null && operation.error !== undefined) {
    return { ...draft, provider_status: 'done', status: 'failed', error: toFailure(operation.error) };
  }
  const samples = (operation.response?.generateVideoResponse?.generatedSamples ?? []).filter((sample) => sample !== null && sample !== undefined);
  // Done with no sample at all is the silent safety filter (docs/providers/gemini.md, "Filtered").
  if (samples.length === 0) return { ...draft, provider_status: 'done', status: 'failed', error: filtered(operation.response) };
  const outputs = samples.flatMap((sample): TaskOutput[] => {
    const url = resolveResultUrl(sample.video?.uri, context.baseUrl);
    return url === null ? [] : [{ type: 'video', url }];
  });
  // Samples without a usable URI leave a succeeded task without a file: finalizeTask refuses it.
  return { ...draft, provider_status: 'done', status: 'succeeded', outputs };
}

const KEY_REASONS: ReadonlySet<string> = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED']);
const KEY_STATUSES: ReadonlySet<string> = new Set(['PERMISSION_DENIED', 'UNAUTHENTICATED']);

/** Does this error say our key was refused (its status, an ErrorInfo reason, or a message naming the key)? */
export function isAboutTheKey(error: RpcStatus): boolean {
  if (error.status !== null && error.status !== undefined && KEY_STATUSES.has(error.status)) return true;
  if ((error.details ?? []).some((detail) => detail?.reason !== null && detail?.reason !== undefined && KEY_REASONS.has(detail.reason))) return true;
  return /\bAPI key\b/i.test(error.message ?? '');
}

function codeIs(error: RpcStatus, status: string, code: number): boolean {
  return error.status === status || error.code === code || error.code === String(code);
}

/**
 * A Google error inside an HTTP 200 (an `error` without `done`): never a task's failure.
 * `retryAfter` is the answer's Retry-After header, if it sent one.
 */
export function apiErrorInBody(error: RpcStatus, retryAfter: string | undefined, cause: unknown): GatewayError {
  const provider = GEMINI_NAME;
  if (codeIs(error, 'RESOURCE_EXHAUSTED', 429)) {
    return new GatewayError('upstream_rate_limited', { provider, cause, retryAfter: retryAfterSeconds(retryAfter), detail: `${provider} is rate limiting the gateway` });
  }
  if (isAboutTheKey(error) || codeIs(error, 'UNAUTHENTICATED', 401) || codeIs(error, 'PERMISSION_DENIED', 403)) {
    return new GatewayError('upstream_auth_failed', { provider, cause, detail: `${provider} rejected the gateway's credentials` });
  }
  if (codeIs(error, 'NOT_FOUND', 404)) return new GatewayError('task_not_found', { provider, cause, detail: `${provider} has no task with this id` });
  return new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered with an error instead of the task` });
}
