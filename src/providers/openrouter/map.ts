/**
 * Pure pieces of the openrouter adapter: its status words, a video job as a TaskDraft
 * (its files the `unsigned_urls` on OpenRouter's own origin, its failure from `error`),
 * and what an OpenRouter error answered with HTTP 200 means for the gateway. Facts in
 * docs/providers/openrouter.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import { GatewayError } from '../../errors.js';
import { DEFAULT_RETRY_AFTER_SECONDS } from '../http.js';
import type { InterpretContext } from '../define.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, resolveResultUrl, StatusTable, toTaskError } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import type { OpenRouterError, VideoJob } from './schema.js';

export const OPENROUTER_NAME = 'openrouter';

export const OPENROUTER_STATUS_WORDS: StatusWords = {
  queued: ['pending'],
  in_progress: ['in_progress'],
  succeeded: ['completed'],
  failed: ['failed', 'expired'],
  canceled: ['cancelled'],
};

const STATUSES = new StatusTable(OPENROUTER_STATUS_WORDS);

export const EXPIRED_WORD = 'expired';
/** Said (as `task_failed`) for an `expired` job that came without an error of its own. */
export const EXPIRED_MESSAGE = 'The video job expired at OpenRouter before it produced a result.';

/** The status call's path for an already URL-encoded job id. */
export function jobPath(encodedId: string): string {
  return `/api/v1/videos/${encodedId}`;
}

const ROOT_RELATIVE = /^\/(?!\/)/;

/**
 * A link as written, or a root-relative one (`/api/v1/videos/{id}/content?index=0`, as
 * `polling_url` is written) placed under the base URL the way the status call's path is,
 * so that a base URL with a path of its own (a proxy in front of OpenRouter) keeps it.
 */
function underBase(candidate: unknown, baseUrl: string): unknown {
  if (typeof candidate !== 'string' || !ROOT_RELATIVE.test(candidate.trim())) return candidate;
  return `${baseUrl.replace(/\/+$/, '')}${candidate.trim()}`;
}

/** The files of a completed job: each string of `unsigned_urls` that is (or resolves to) an http(s) URL, a video. */
function toOutputs(urls: unknown, baseUrl: string): TaskOutput[] {
  const candidates = typeof urls === 'string' ? [urls] : Array.isArray(urls) ? urls : [];
  return candidates.flatMap((candidate): TaskOutput[] => {
    const url = resolveResultUrl(underBase(candidate, baseUrl), baseUrl);
    return url === null ? [] : [{ type: 'video', url }];
  });
}

/** A failed or expired job's error as given, else `task_failed`; an `expired` one says it expired. */
function toFailure(job: VideoJob & { status: string }): TaskError | null {
  const error = toTaskError(job.error);
  if (error !== null) return error;
  return job.status.trim().toLowerCase() === EXPIRED_WORD ? { code: FAILURE_WITHOUT_DETAILS.code, message: EXPIRED_MESSAGE } : null;
}

function jobDraft(job: VideoJob & { status: string }, context: InterpretContext): TaskDraft {
  const status = STATUSES.known(job.status);
  return {
    provider_task_id: firstNonEmptyString(job.id) ?? context.nativeId,
    provider_status: job.status,
    // OpenRouter reports no progress, model or times for a job.
    progress: null,
    outputs: status === 'succeeded' ? toOutputs(job.unsigned_urls, context.baseUrl) : [],
    error: status === 'failed' ? toFailure(job) : null,
    model: null,
    created_at: null,
    completed_at: null,
  };
}

const cause = (error: unknown) => ({ errorInBody: error });

function codeOf(error: OpenRouterError): number | undefined {
  const code = typeof error.code === 'string' ? Number(error.code.trim()) : error.code;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

/**
 * OpenRouter's error envelope answered with HTTP 200 (its `code` is the HTTP status it
 * means): never a job's failure (docs/providers/openrouter.md, "Errors").
 */
export function apiErrorInBody(error: OpenRouterError | string): GatewayError {
  const provider = OPENROUTER_NAME;
  const code = typeof error === 'string' ? undefined : codeOf(error);
  if (code === 429) {
    return new GatewayError('upstream_rate_limited', { provider, cause: cause(error), retryAfter: DEFAULT_RETRY_AFTER_SECONDS, detail: `${provider} is rate limiting the gateway` });
  }
  if (code === 401 || code === 403) return new GatewayError('upstream_auth_failed', { provider, cause: cause(error), detail: `${provider} rejected the gateway's credentials` });
  if (code === 404) return new GatewayError('task_not_found', { provider, cause: cause(error), detail: `${provider} has no task with this id` });
  return new GatewayError('upstream_error', { provider, cause: cause(error), detail: `${provider} answered with an error instead of the task` });
}

/**
 * A job as a TaskDraft; a body without a status word is no job: an error envelope there
 * is the error it says, anything else a broken answer.
 */
export function toTaskDraft(job: VideoJob, context: InterpretContext): TaskDraft {
  const status = firstNonEmptyString(job.status);
  if (status !== null) return jobDraft({ ...job, status }, context);
  if (job.error !== null && job.error !== undefined) throw apiErrorInBody(job.error);
  throw new GatewayError('upstream_invalid_response', { provider: OPENROUTER_NAME, detail: `${OPENROUTER_NAME} returned a task without a status` });
}
