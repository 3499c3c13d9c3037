/**
 * Pure pieces of the PixVerse lookup: what an `ErrCode` envelope means (never a task
 * failure), which answers mean "no such video", and the TaskDraft made of a video result
 * (finalizeTask does the rest). The facts are in docs/providers/pixverse.md.
 */
import type { TaskError } from '../../../schemas/task.js';
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { classifyHttpError, getHeader, retryAfterSeconds, tryParseJson } from '../http.js';
import { resolveResultUrl } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import type { Envelope, VideoResult } from './schema.js';

export const PIXVERSE_NAME = 'pixverse';

/** `Resp.status`: 5 generating (or waiting), 1 done, 7 stopped by moderation, 8 failed. */
export const GENERATING = 5;
export const SUCCEEDED = 1;
export const MODERATION_FAILED = 7;
export const GENERATION_FAILED = 8;

/** Its status words are the integers' decimal text; PixVerse has no queue state, no progress, no cancel. */
export const PIXVERSE_STATUSES: StatusWords = {
  in_progress: [String(GENERATING)],
  succeeded: [String(SUCCEEDED)],
  failed: [String(MODERATION_FAILED), String(GENERATION_FAILED)],
};

/** A video id: the integer PixVerse gives, as its digits. */
export const VIDEO_ID = /^\d{10,19}$/;

/** `ErrCode`s from PixVerse's error code table that are about the call, never about the video. */
export const INVALID_ACCOUNT = 400012;
export const DATA_NOT_FOUND = 500008;
export const NO_PERMISSION = 500020;
export const CONCURRENCY_LIMIT = 500044;

const FAILURES: ReadonlyMap<number, TaskError> = new Map([
  [MODERATION_FAILED, { code: 'content_moderation', message: "The video did not pass PixVerse's content moderation" }],
  [GENERATION_FAILED, { code: 'generation_failed', message: 'PixVerse failed to generate the video' }],
]);

/** What an API error is about, from its code, or else its wording (the codes PixVerse documents are few). */
export type EnvelopeKind = 'rate_limited' | 'auth' | 'not_found' | 'other';

const RATE_LIMIT_TEXT = /concurren|rate[ _-]?limit|too many requests|too frequent/i;
const AUTH_TEXT = /api[ _-]?key|unauthori[sz]|invalid account|permission|forbidden/i;
const MISSING_TEXT = /not[ _-]?(?:exist|found)|does ?n[o']?t exist|no such (?:video|task)/i;

/**
 * `ErrCode` as a number: absent or empty is 0 (success); a code that is not a number at
 * all is NaN, an error of unknown kind.
 */
export function errCodeOf(envelope: Pick<Envelope, 'ErrCode'>): number {
  const code = envelope.ErrCode;
  if (code === undefined || code === null) return 0;
  if (typeof code === 'number') return code;
  const text = code.trim();
  return text === '' ? 0 : /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

export function envelopeKind(code: number, message: string): EnvelopeKind {
  if (code === CONCURRENCY_LIMIT) return 'rate_limited';
  if (code === INVALID_ACCOUNT || code === NO_PERMISSION) return 'auth';
  if (code === DATA_NOT_FOUND) return 'not_found';
  // Credentials before "not found": "API-KEY not found" is about the key.
  if (RATE_LIMIT_TEXT.test(message)) return 'rate_limited';
  if (AUTH_TEXT.test(message)) return 'auth';
  if (MISSING_TEXT.test(message)) return 'not_found';
  return 'other';
}

/**
 * The GatewayError a non-zero `ErrCode` means. Never a task failure: a rate limit while
 * polling must leave the task as it was.
 */
export function envelopeError(envelope: Envelope, response: UpstreamResponse): GatewayError {
  const code = errCodeOf(envelope);
  const provider = PIXVERSE_NAME;
  const cause = { statusCode: response.statusCode, ErrCode: envelope.ErrCode, ErrMsg: envelope.ErrMsg };
  const shown = Number.isSafeInteger(code) ? ` (ErrCode ${code})` : '';
  switch (envelopeKind(code, envelope.ErrMsg ?? '')) {
    case 'rate_limited':
      return new GatewayError('upstream_rate_limited', {
        provider,
        cause,
        retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
        detail: `${provider} is rate limiting the gateway${shown}`,
      });
    case 'auth':
      return new GatewayError('upstream_auth_failed', { provider, cause, detail: `${provider} rejected the gateway's credentials${shown}` });
    case 'not_found':
      return new GatewayError('task_not_found', { provider, cause, detail: `${provider} has no task with this id` });
    case 'other':
      return new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered with an API error${shown}` });
  }
}

/** The envelope of an error body, if it is one (an object with a non-zero ErrCode). */
function errorEnvelopeOf(body: unknown): Envelope | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { ErrCode, ErrMsg } = body as Record<string, unknown>;
  if (typeof ErrCode !== 'number' && typeof ErrCode !== 'string') return undefined;
  const envelope: Envelope = { ErrCode, ErrMsg: typeof ErrMsg === 'string' ? ErrMsg : null };
  return errCodeOf(envelope) === 0 ? undefined : envelope;
}

/**
 * The GatewayError of a non-2xx answer: 401, 403 and 429 by their status; otherwise the
 * envelope's code when it says what it is about (a 500 saying the concurrency limit was
 * reached is a rate limit); 404 is "no such video"; anything else an upstream error.
 */
export function httpError(response: UpstreamResponse): GatewayError {
  const options = { provider: PIXVERSE_NAME, isNotFound: (answer: UpstreamResponse) => answer.statusCode === 404 };
  const { statusCode } = response;
  if (statusCode === 401 || statusCode === 403 || statusCode === 429) return classifyHttpError(response, options);
  const envelope = errorEnvelopeOf(tryParseJson(response.body));
  if (envelope !== undefined && envelopeKind(errCodeOf(envelope), envelope.ErrMsg ?? '') !== 'other') return envelopeError(envelope, response);
  return classifyHttpError(response, options);
}

/**
 * `Resp.status` as its decimal text: an integer, or a string of digits (the other reading);
 * null when there is none a status word can be made of.
 */
export function statusWordOf(result: VideoResult): string | null {
  const { status } = result;
  if (typeof status === 'number') return Number.isSafeInteger(status) ? String(status) : null;
  return typeof status === 'string' && /^\s*-?\d+\s*$/.test(status) ? String(Number(status)) : null;
}

/** The video as PixVerse reports it; the id is the one asked for, digit for digit. */
export function toTaskDraft(result: VideoResult, statusWord: string, context: { nativeId: string; baseUrl: string }): TaskDraft {
  const status = Number(statusWord);
  const url = status === SUCCEEDED ? resolveResultUrl(result.url, context.baseUrl) : null;
  return {
    provider_task_id: context.nativeId,
    provider_status: statusWord,
    progress: null,
    outputs: url === null ? [] : [{ type: 'video', url }],
    error: FAILURES.get(status) ?? null,
    model: null,
    // `create_time` and `modify_time` are strings of an undocumented format and zone.
    created_at: null,
    completed_at: null,
  };
}
