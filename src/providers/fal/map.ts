/**
 * Pure pieces of the fal adapter: a native id's parts and queue path, a result's files as
 * outputs, and what an error answer says about the request (docs/providers/fal.md).
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { getHeader, tryParseJson } from '../http.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, resolveResultUrl, type OutputType } from '../normalize.js';
import { FalErrorSchema, type FalFile, type FalResult, type FalStatus } from './schema.js';

export const FAL_NAME = 'fal';

/** App namespaces whose queue path has three segments (namespace/owner/alias) instead of two. */
export const QUEUE_NAMESPACES: ReadonlySet<string> = new Set(['workflows', 'comfy']);

export interface FalRequestRef {
  /** The model id as submitted, subpath included, e.g. `fal-ai/kling-video/v2.5-turbo/pro/image-to-video`. */
  modelId: string;
  /** The queue app the status and result calls go to, e.g. `fal-ai/kling-video`. */
  app: string;
  requestId: string;
}

/**
 * The queue app of a model id: its first two segments (owner/alias), three under
 * `workflows/` and `comfy/`. The queue knows a request by app and id: the subpath a
 * request was submitted to is never part of its status or result path.
 */
export function queueApp(modelId: string): string {
  const segments = modelId.split('/');
  return segments.slice(0, QUEUE_NAMESPACES.has(segments[0] ?? '') ? 3 : 2).join('/');
}

/** `{model id}/{request id}`: the request id is the last segment. */
export function parseNativeId(nativeId: string): FalRequestRef {
  const cut = nativeId.lastIndexOf('/');
  const modelId = nativeId.slice(0, Math.max(cut, 0));
  return { modelId, app: queueApp(modelId), requestId: nativeId.slice(cut + 1) };
}

/** The result keys that hold files, in the order outputs are listed, and the type each implies. */
const FILE_KEYS: ReadonlyArray<readonly ['video' | 'videos' | 'image' | 'images' | 'audio' | 'audio_file', OutputType]> = [
  ['video', 'video'],
  ['videos', 'video'],
  ['image', 'image'],
  ['images', 'image'],
  ['audio', 'audio'],
  ['audio_file', 'audio'],
];
const MEDIA_TYPES: ReadonlySet<string> = new Set<OutputType>(['video', 'image', 'audio']);

/** A file's `content_type` decides its type when present (video/*, image/*, audio/*, else file); else its key does. */
function outputTypeOf(file: FalFile, byKey: OutputType): OutputType {
  const major = firstNonEmptyString(file.content_type)?.split('/', 1)[0]?.toLowerCase();
  if (major === undefined) return byKey;
  return MEDIA_TYPES.has(major) ? (major as OutputType) : 'file';
}

/** Every file of a result whose URL is an absolute http(s) URL (a relative one resolves against the base). */
export function toOutputs(result: FalResult, baseUrl: string): TaskOutput[] {
  const outputs: TaskOutput[] = [];
  for (const [key, byKey] of FILE_KEYS) {
    const value = result[key];
    for (const file of Array.isArray(value) ? value : [value]) {
      if (file === null || file === undefined || Array.isArray(file)) continue;
      const url = resolveResultUrl(file.url, baseUrl);
      if (url !== null) outputs.push({ type: outputTypeOf(file, byKey), url });
    }
  }
  return outputs;
}

/** The error a COMPLETED (or FAILED) status body carries itself: `error`, typed by `error_type`. */
export function statusBodyError(status: FalStatus): TaskError | null {
  const message = firstNonEmptyString(status.error);
  if (message === null) return null;
  return { code: firstNonEmptyString(status.error_type) ?? FAILURE_WITHOUT_DETAILS.code, message };
}

/**
 * What a completed request's non-2xx result answer (other than 401, 403 and 429) says:
 * the request's error, or null when the answer is not the request's outcome at all.
 *
 * Its outcome is an error fal typed (`X-Fal-Error-Type`, or `error_type` in the body) at
 * any status: the queue retries infrastructure failures (runner_scheduling_failure,
 * runner_disconnected…) before it marks a request COMPLETED, so a typed error on a
 * completed request is final. Its outcome is also a 4xx other than 404 that carries a
 * `detail` (a model's validation error). Anything else (a 5xx nobody typed, a 404, a body
 * that is not fal's) is fal's API failing, not the request: null.
 */
export function resultAnswerError(response: UpstreamResponse): TaskError | null {
  const parsed = FalErrorSchema.safeParse(tryParseJson(response.body));
  const body = parsed.success ? parsed.data : {};
  const errorType = firstNonEmptyString(getHeader(response.headers, 'x-fal-error-type'), body.error_type);
  const { detail } = body;
  const firstItem = Array.isArray(detail) ? detail.find((item) => item !== null && item !== undefined) : undefined;
  const hasDetail = typeof detail === 'string' ? detail.trim() !== '' : firstItem !== undefined;
  const { statusCode } = response;
  const isValidationError = statusCode >= 400 && statusCode <= 499 && statusCode !== 404 && hasDetail;
  if (errorType === null && !isValidationError) return null;
  return {
    code: errorType ?? firstNonEmptyString(firstItem?.type) ?? FAILURE_WITHOUT_DETAILS.code,
    message: (typeof detail === 'string' ? firstNonEmptyString(detail) : firstNonEmptyString(firstItem?.msg)) ?? FAILURE_WITHOUT_DETAILS.message,
  };
}
