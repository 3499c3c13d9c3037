/**
 * Pure pieces of the luma adapter: the id form, the status call's path, a generation as a
 * TaskDraft (finalizeTask does the rest), and what a Luma error that is no generation's
 * failure means for the gateway. Facts in docs/providers/luma.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { getHeader, retryAfterSeconds, tryParseJson } from '../http.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, resolveResultUrl, StatusTable, toOutputType, toRfc3339 } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import { ErrorBodySchema, type Generation } from './schema.js';

export const LUMA_NAME = 'luma';

/** `processing` is the Agents API's word for Dream Machine's `dreaming`. Luma has no cancel. */
export const LUMA_STATUS_WORDS: StatusWords = {
  queued: ['queued'],
  in_progress: ['dreaming', 'processing'],
  succeeded: ['completed'],
  failed: ['failed'],
};

const STATUSES = new StatusTable(LUMA_STATUS_WORDS);

/** A UUID in any case: the routing rule runway, luma and dashscope share. */
export const UUID_RULE = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
export const GENERATION_ID = new RegExp(UUID_RULE);

const API_ROOT = '/dream-machine/v1';
const GENERATIONS_PATH = '/generations';

/**
 * The status call's path under the base URL, and its template for spans. Luma's SDKs take
 * a base URL ending in `/dream-machine/v1`: one set that way is not given the root again.
 */
export function generationRequest(baseUrl: string, nativeId: string): { path: string; template: string } {
  const basePath = URL.canParse(baseUrl) ? new URL(baseUrl).pathname.replace(/\/+$/, '') : '';
  const prefix = basePath.endsWith(API_ROOT) ? GENERATIONS_PATH : `${API_ROOT}${GENERATIONS_PATH}`;
  return { path: `${prefix}/${encodeURIComponent(nativeId)}`, template: `${prefix}/{id}` };
}

export interface GenerationContext {
  nativeId: string;
  /** Relative result URLs resolve against it. */
  baseUrl: string;
}

/**
 * A completed generation's files: Dream Machine's `assets.video` and `assets.image`, then
 * the Agents API's `output[]` typed by its `type`; a URL named twice counts once.
 */
export function toOutputs(generation: Generation, baseUrl: string): TaskOutput[] {
  const candidates: Array<{ type: TaskOutput['type']; value: unknown }> = [
    { type: 'video', value: generation.assets?.video },
    { type: 'image', value: generation.assets?.image },
    ...(generation.output ?? []).map((item) => ({ type: toOutputType(item?.type), value: item?.url })),
  ];
  const outputs: TaskOutput[] = [];
  for (const { type, value } of candidates) {
    const url = resolveResultUrl(value, baseUrl);
    if (url !== null && !outputs.some((output) => output.url === url)) outputs.push({ type, url });
  }
  return outputs;
}

/** `failure_code` (the Agents API's) or `task_failed`, with `failure_reason` as the message. */
export function toFailure(generation: Generation): TaskError | null {
  const reason = firstNonEmptyString(generation.failure_reason);
  const { failure_code: rawCode } = generation;
  const code = typeof rawCode === 'number' && Number.isFinite(rawCode) ? String(rawCode) : firstNonEmptyString(rawCode);
  if (reason === null && code === null) return null;
  return { code: code ?? FAILURE_WITHOUT_DETAILS.code, message: reason ?? FAILURE_WITHOUT_DETAILS.message };
}

/** A generation whose state word is there (the lookup checked it). */
export function toTaskDraft(generation: Generation & { state: string }, context: GenerationContext): TaskDraft {
  const status = STATUSES.known(generation.state);
  return {
    provider_task_id: firstNonEmptyString(generation.id) ?? context.nativeId,
    provider_status: generation.state,
    // Luma reports no progress figure, only a preview video while dreaming.
    progress: null,
    outputs: status === 'succeeded' ? toOutputs(generation, context.baseUrl) : [],
    error: status === 'failed' ? toFailure(generation) : null,
    model: firstNonEmptyString(generation.model),
    created_at: toRfc3339(generation.created_at),
    // Luma sends no completion time.
    completed_at: null,
  };
}

/** The sentence of a `detail`: the text itself, or the `msg` of each validation error. */
export function detailText(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (!Array.isArray(detail)) return '';
  return detail
    .map((item: unknown) => (typeof item === 'object' && item !== null ? (item as { msg?: unknown }).msg : undefined))
    .filter((message): message is string => typeof message === 'string' && message !== '')
    .join(' ');
}

const NOT_FOUND_WORDS = /not[\s_-]?found|does not exist|doesn't exist|no such/i;
const RATE_LIMIT_WORDS = /rate[\s_-]?limit|too many requests|concurren/i;
const CREDENTIAL_WORDS = /api[\s_-]?key|unauthori[sz]ed|not authenticated|forbidden|credential|token/i;

/** Does this non-2xx answer mean "no such generation"? A 404, or a 400 whose detail says not found. */
export function isNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  if (response.statusCode !== 400) return false;
  const body = ErrorBodySchema.safeParse(tryParseJson(response.body));
  return body.success && NOT_FOUND_WORDS.test(detailText(body.data.detail));
}

/** An error body answered with HTTP 200 (a relay's habit): never a generation's failure. */
export function apiErrorInBody(detail: unknown, response: UpstreamResponse): GatewayError {
  const provider = LUMA_NAME;
  const cause = { statusCode: response.statusCode, bodyExcerpt: response.body.slice(0, 500) };
  const text = detailText(detail);
  if (RATE_LIMIT_WORDS.test(text)) {
    return new GatewayError('upstream_rate_limited', {
      provider,
      cause,
      retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
      detail: `${provider} is rate limiting the gateway`,
    });
  }
  if (CREDENTIAL_WORDS.test(text)) return new GatewayError('upstream_auth_failed', { provider, cause, detail: `${provider} rejected the gateway's credentials` });
  if (NOT_FOUND_WORDS.test(text)) return new GatewayError('task_not_found', { provider, cause, detail: `${provider} has no task with this id` });
  return new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered with an error instead of the generation` });
}
