/**
 * Kling's ids and answers, pure: the native id's two forms, what an answer means (a task,
 * a stale token, or the GatewayError of an envelope code) and the mapping of a task onto a
 * TaskDraft (finalizeTask does the rest). Facts in docs/providers/kling.md.
 */
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { classifyHttpError, getHeader, isSuccessStatus, retryAfterSeconds, tryParseJson } from '../http.js';
import { resolveResultUrl, StatusTable, toRfc3339, toTaskError } from '../normalize.js';
import type { StateOutput, StatusWords, TaskDraft } from '../types.js';
import { KlingEnvelopeSchema, KlingTaskSchema, type KlingTask } from './schema.js';

export const KLING_NAME = 'kling';

export const KLING_STATUS_WORDS: StatusWords = {
  queued: ['submitted'],
  in_progress: ['processing'],
  succeeded: ['succeed'],
  failed: ['failed'],
};
const STATUSES = new StatusTable(KLING_STATUS_WORDS);

/** The actions a bare task id is asked at, in order of preference. */
export const PROBED_ACTIONS = ['text2video', 'image2video'] as const;

/**
 * `[<action>/]<task_id>`: the action is the path word after `/v1/videos/` (`text2video`,
 * `image2video`, `video-extend`…); the task id is 10-19 digits (current ids have 18) or
 * 22 characters of base64url (older tasks).
 */
export const KLING_NATIVE_ID = /^(?:([a-z0-9][a-z0-9-]{0,39})\/)?(\d{10,19}|[A-Za-z0-9_-]{22})$/;

export interface KlingTaskRef {
  /** Undefined for a bare task id: the actions of PROBED_ACTIONS are asked. */
  action: string | undefined;
  taskId: string;
}

export function parseNativeId(nativeId: string): KlingTaskRef | undefined {
  const match = KLING_NATIVE_ID.exec(nativeId);
  return match === null ? undefined : { action: match[1], taskId: match[2]! };
}

/** The native ids one id may be: itself when it names its action, else one per probed action. */
export function expandNativeId(nativeId: string): string[] {
  const ref = parseNativeId(nativeId);
  if (ref === undefined || ref.action !== undefined) return [nativeId];
  return PROBED_ACTIONS.map((action) => `${action}/${ref.taskId}`);
}

export const STATUS_TEMPLATE = '/v1/videos/{action}/{task_id}';

export function statusPath(action: string, taskId: string): string {
  return `/v1/videos/${action}/${encodeURIComponent(taskId)}`;
}

/** Kling's envelope codes the adapter tells apart (docs/providers/kling.md, "Errors"). */
const ENVELOPE_CODES = {
  success: 0,
  tokenExpired: 1004,
  taskNotFound: 1203,
} as const;
const CREDENTIAL_CODES = new Set([1000, 1001, 1002, 1003]);
/** Account exception, arrears, resource pack depleted, no permission; an IP allow-list refusal. */
const ACCOUNT_CODES = new Set([1100, 1101, 1102, 1103, 1304]);
/** Requests too fast; concurrency over the resource pack's limit. */
const RATE_LIMIT_CODES = new Set([1302, 1303]);

/** What one status answer says. */
export type KlingAnswer =
  | { kind: 'task'; task: KlingTask }
  /** Code 1004: the token was stale; `error` is what it means when it happens again with a fresh one. */
  | { kind: 'token_expired'; error: GatewayError };

const CAUSE_BODY_EXCERPT_CHARS = 500;

function causeOf(response: UpstreamResponse, code?: number) {
  return { statusCode: response.statusCode, code, bodyExcerpt: response.body.slice(0, CAUSE_BODY_EXCERPT_CHARS) };
}

/** The envelope's `code` as a number: undefined when absent, NaN when it is not a number at all. */
function codeNumber(code: string | number | null | undefined): number | undefined {
  if (code === null || code === undefined) return undefined;
  if (typeof code === 'number') return code;
  return /^\s*\d+\s*$/.test(code) ? Number(code) : Number.NaN;
}

/** The GatewayError of a non-zero envelope code, whatever the HTTP status: never a task failure. */
function envelopeError(code: number, response: UpstreamResponse): GatewayError {
  const provider = KLING_NAME;
  const cause = causeOf(response, code);
  if (code === ENVELOPE_CODES.taskNotFound) return new GatewayError('task_not_found', { provider, cause, detail: 'kling has no task with this id' });
  if (CREDENTIAL_CODES.has(code)) {
    return new GatewayError('upstream_auth_failed', { provider, cause, detail: `kling rejected the gateway's token (code ${code})` });
  }
  if (ACCOUNT_CODES.has(code)) {
    return new GatewayError('upstream_auth_failed', { provider, cause, detail: `kling refused the account behind the gateway's keys (code ${code})` });
  }
  if (RATE_LIMIT_CODES.has(code)) {
    return new GatewayError('upstream_rate_limited', {
      provider,
      cause,
      retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
      detail: `kling is rate limiting the gateway (code ${code})`,
    });
  }
  const shown = Number.isSafeInteger(code) ? `code ${code}` : 'a code that is not a number';
  return new GatewayError('upstream_error', { provider, cause, detail: `kling answered an error (${shown})` });
}

function staleTokenError(response: UpstreamResponse): GatewayError {
  return new GatewayError('upstream_auth_failed', {
    provider: KLING_NAME,
    cause: causeOf(response, ENVELOPE_CODES.tokenExpired),
    detail: "kling said the gateway's token had expired, again with a new one: check the gateway host's clock",
  });
}

const isNotFound = (response: UpstreamResponse) => response.statusCode === 404;

/** One status answer: a task, a stale token, or the GatewayError it means (thrown). */
export function readAnswer(response: UpstreamResponse): KlingAnswer {
  const json = tryParseJson(response.body);
  const envelope = KlingEnvelopeSchema.safeParse(json);
  const code = envelope.success ? codeNumber(envelope.data.code) : undefined;
  // An envelope code decides before the HTTP status: Kling sends 429 for an account in arrears too.
  if (code === ENVELOPE_CODES.tokenExpired) return { kind: 'token_expired', error: staleTokenError(response) };
  if (code !== undefined && code !== ENVELOPE_CODES.success) throw envelopeError(code, response);
  if (!isSuccessStatus(response.statusCode)) throw classifyHttpError(response, { provider: KLING_NAME, isNotFound });
  if (json === undefined) {
    throw new GatewayError('upstream_invalid_response', { provider: KLING_NAME, cause: causeOf(response), detail: 'kling returned a body that is not valid JSON' });
  }
  const task = envelope.success ? KlingTaskSchema.safeParse(envelope.data.data) : undefined;
  if (task?.success !== true) {
    throw new GatewayError('upstream_invalid_response', {
      provider: KLING_NAME,
      cause: task?.error ?? envelope.error,
      detail: 'kling returned a task in an unexpected shape',
    });
  }
  return { kind: 'task', task: task.data };
}

function toOutputs(task: KlingTask, baseUrl: string): StateOutput[] {
  const outputs: StateOutput[] = [];
  for (const [type, files] of [['video', task.task_result?.videos], ['image', task.task_result?.images]] as const) {
    for (const file of files ?? []) {
      const url = resolveResultUrl(file?.url, baseUrl);
      if (url !== null) outputs.push({ type, url });
    }
  }
  return outputs;
}

/** A task as the draft; the native id (`action/task_id`) is its provider_task_id. */
export function toTaskDraft(task: KlingTask, nativeId: string, baseUrl: string): TaskDraft {
  const status = STATUSES.known(task.task_status);
  const terminal = status === 'succeeded' || status === 'failed';
  return {
    provider_task_id: nativeId,
    provider_status: task.task_status,
    progress: null,
    outputs: status === 'succeeded' ? toOutputs(task, baseUrl) : [],
    error: toTaskError(task.task_status_msg),
    model: null,
    // Milliseconds; Kling stamps no completion time, its last update is when the task ended.
    created_at: toRfc3339(task.created_at),
    completed_at: terminal ? toRfc3339(task.updated_at) : null,
  };
}
