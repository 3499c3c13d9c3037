/**
 * Pure pieces of the dashscope adapter: the task id's form, what an answer without a task
 * means (an unknown id, an API error inside an HTTP 200), and a task as a TaskDraft, its
 * zone-less times read as China time and its expiry read from the signed result links.
 * Facts in docs/providers/dashscope.md.
 */
import type { TaskError } from '../../../schemas/task.js';
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { getHeader, retryAfterSeconds } from '../http.js';
import { firstNonEmptyString, resolveResultUrl, StatusTable, toRfc3339, toTaskError } from '../normalize.js';
import type { StateOutput, StatusWords, TaskDraft } from '../types.js';
import type { Output, TaskBody } from './schema.js';

export const DASHSCOPE_NAME = 'dashscope';

export const DASHSCOPE_STATUSES: StatusWords = {
  queued: ['PENDING'],
  in_progress: ['RUNNING'],
  succeeded: ['SUCCEEDED'],
  failed: ['FAILED'],
  canceled: ['CANCELED'],
};

const STATUSES = new StatusTable(DASHSCOPE_STATUSES);

/** The word for an id DashScope does not know, or a task older than its 24 h retention: no status. */
export const UNKNOWN_STATUS = 'UNKNOWN';

/** A UUID in any case: the routing rule (shared with the other UUID providers) and the id form. */
export const UUID_PATTERN = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
export const TASK_ID = new RegExp(UUID_PATTERN);

export const TASK_TEMPLATE = '/api/v1/tasks/{task_id}';

export function taskPath(nativeId: string): string {
  return `/api/v1/tasks/${encodeURIComponent(nativeId)}`;
}

/** Error codes about the call, not the task (docs/providers/dashscope.md, "API errors"). */
const RATE_LIMIT_CODE = /^Throttling\b/i;
const CREDENTIAL_CODE = /^(?:InvalidApiKey|AccessDenied)\b/i;

/** Raw material for the logs only: never a `detail`. */
function causeOf(response: UpstreamResponse, code: string | null) {
  return { statusCode: response.statusCode, code, bodyExcerpt: response.body.slice(0, 500) };
}

function codeOf(value: unknown): string | null {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : firstNonEmptyString(value);
}

/**
 * The task an HTTP 200 holds, or the GatewayError it means instead: `UNKNOWN` is an id
 * DashScope does not have (any more); a top-level `code` without a task is an API error,
 * never a task failure; anything else is a broken answer.
 */
export function taskOutput(body: TaskBody, response: UpstreamResponse): Output {
  const provider = DASHSCOPE_NAME;
  const { output } = body;
  const word = firstNonEmptyString(output?.task_status);
  if (word?.toUpperCase() === UNKNOWN_STATUS) {
    throw new GatewayError('task_not_found', { provider, cause: causeOf(response, null), detail: `${provider} has no task with this id (or it is older than 24 hours)` });
  }
  if (output !== null && output !== undefined && word !== null) return output;
  const code = codeOf(body.code);
  const cause = causeOf(response, code);
  if (code === null) throw new GatewayError('upstream_invalid_response', { provider, cause, detail: `${provider} returned a task in an unexpected shape` });
  if (RATE_LIMIT_CODE.test(code)) {
    throw new GatewayError('upstream_rate_limited', {
      provider,
      cause,
      retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
      detail: `${provider} is rate limiting the gateway`,
    });
  }
  if (CREDENTIAL_CODE.test(code)) throw new GatewayError('upstream_auth_failed', { provider, cause, detail: `${provider} rejected the gateway's credentials` });
  throw new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered with an API error` });
}

/** DashScope's clock: its times carry no zone and are China Standard Time. */
const CHINA_TIME = '+08:00';
const ZONELESS_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?$/;

/** A DashScope time as RFC 3339 UTC: a zone-less one is read as UTC+8, any other as toRfc3339 reads it. */
export function toInstant(value: unknown): string | null {
  const text = typeof value === 'string' ? value.trim() : undefined;
  return toRfc3339(text !== undefined && ZONELESS_TIME.test(text) ? `${text}${CHINA_TIME}` : value);
}

const UNIX_SECONDS = /^\d{1,11}$/;

/** When a signed link dies: its `Expires` query parameter (Unix seconds, any case of the name), if it has one. */
export function linkExpiry(url: string): number | undefined {
  let parameters: URLSearchParams;
  try {
    parameters = new URL(url).searchParams;
  } catch {
    return undefined;
  }
  for (const [name, value] of parameters) {
    if (name.toLowerCase() === 'expires' && UNIX_SECONDS.test(value)) return Number(value);
  }
  return undefined;
}

function outputsOf(output: Output, baseUrl: string): StateOutput[] {
  const outputs: StateOutput[] = [];
  const video = resolveResultUrl(output.video_url, baseUrl);
  if (video !== null) outputs.push({ type: 'video', url: video });
  for (const result of output.results ?? []) {
    const image = resolveResultUrl(result?.url, baseUrl);
    if (image !== null) outputs.push({ type: 'image', url: image });
  }
  return outputs;
}

/** The files stop being served when the first of their links dies; null when none says. */
function expiryOf(outputs: readonly StateOutput[]): string | null {
  const expiries = outputs.map((output) => linkExpiry(output.url)).filter((seconds) => seconds !== undefined);
  return expiries.length === 0 ? null : toRfc3339(Math.min(...expiries));
}

function firstResultError(results: Output['results']): TaskError | null {
  for (const result of results ?? []) {
    const error = toTaskError({ code: result?.code, message: result?.message });
    if (error !== null) return error;
  }
  return null;
}

/** Why a task failed: `output.code`/`message`, else a failed image's, else the answer's top-level ones. */
function failureOf(body: TaskBody, output: Output): TaskError | null {
  return (
    toTaskError({ code: output.code, message: output.message }) ??
    firstResultError(output.results) ??
    toTaskError({ code: body.code, message: body.message })
  );
}

export interface DraftContext {
  nativeId: string;
  /** Relative result URLs resolve against it. */
  baseUrl: string;
}

/** A task (what taskOutput gave) as a TaskDraft; `body` for a failure's reason sent at the top level. */
export function toTaskDraft(body: TaskBody, output: Output, context: DraftContext): TaskDraft {
  const word = firstNonEmptyString(output.task_status) ?? '';
  const status = STATUSES.known(word);
  const outputs = status === 'succeeded' ? outputsOf(output, context.baseUrl) : [];
  return {
    provider_task_id: firstNonEmptyString(output.task_id) ?? context.nativeId,
    provider_status: word,
    progress: null,
    outputs,
    error: status === 'failed' ? failureOf(body, output) : null,
    model: null,
    created_at: toInstant(output.submit_time),
    completed_at: toInstant(output.end_time),
    expires_at: expiryOf(outputs),
  };
}
