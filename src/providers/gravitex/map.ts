/**
 * Pure mapping of a parsed gravitex body onto a TaskDraft (finalizeTask does the rest).
 */
import { GatewayError } from '../../errors.js';
import type { TaskOutput } from '../../../schemas/task.js';
import {
  firstNonEmptyString,
  resolveResultUrl,
  toProgress,
  toRfc3339,
  toTaskError,
  type OutputType,
} from '../normalize.js';
import type { TaskDraft } from '../types.js';
import type { InterpretContext } from '../define.js';
import type { GravitexBody, GravitexEnvelope, GravitexTask } from './schema.js';

export const GRAVITEX_NAME = 'gravitex';

const TASK_NOT_EXIST = /task[\s_-]*not[\s_-]*exists?/i;
const IMAGE_FORMATS: ReadonlySet<string> = new Set(['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp']);
const AUDIO_FORMATS: ReadonlySet<string> = new Set(['mp3', 'wav', 'ogg', 'm4a', 'aac', 'flac', 'opus']);

/** gravitex's unknown-task marker (`"code": "task_not_exist"`) in one of these error texts? */
export function saysTaskNotExist(texts: readonly string[]): boolean {
  return texts.some((text) => TASK_NOT_EXIST.test(text));
}

/** gravitex results are videos; `format` only says otherwise for an image or audio format. */
function resultType(format: string | null | undefined): OutputType {
  const normalized = format?.trim().toLowerCase() ?? '';
  if (IMAGE_FORMATS.has(normalized)) return 'image';
  if (AUDIO_FORMATS.has(normalized)) return 'audio';
  return 'video';
}

/**
 * docs/providers/gravitex.md: result url is `url`, else `video_url`, else `result_url` (variant 3). A `url`
 * pointing back at gravitex (`/v1/videos/{id}/content`) is kept as is: it is the result.
 */
function toOutputs(task: GravitexTask, baseUrl: string): TaskOutput[] {
  for (const candidate of [task.url, task.video_url, task.result_url]) {
    const url = resolveResultUrl(candidate, baseUrl);
    if (url !== null) return [{ type: resultType(task.format), url }];
  }
  return [];
}

/**
 * A wrapped answer (variants 2/3) without a usable `data`. `task_not_exist` → task_not_found.
 * Another non-"success" code is gravitex reporting its own failure inside a 200: a provider
 * error that a later poll may not repeat, so upstream_error (like a 5xx), not a contract
 * breach. "success" (or no code at all) without a task is a broken answer:
 * upstream_invalid_response, as is any object with neither a status nor a wrapper.
 */
function envelopeWithoutTask(envelope: GravitexEnvelope): GatewayError {
  const code = envelope.code === null ? '' : String(envelope.code).trim();
  if (saysTaskNotExist([code, envelope.message ?? ''])) {
    return new GatewayError('task_not_found', { provider: GRAVITEX_NAME, detail: 'gravitex has no task with this id' });
  }
  if (code !== '' && code.toLowerCase() !== 'success') {
    return new GatewayError('upstream_error', {
      provider: GRAVITEX_NAME,
      cause: envelope,
      detail: 'gravitex reported an error inside a successful HTTP answer',
    });
  }
  return new GatewayError('upstream_invalid_response', {
    provider: GRAVITEX_NAME,
    detail: 'gravitex returned an answer without a task status',
  });
}

export function toTaskDraft(body: GravitexBody, context: InterpretContext): TaskDraft {
  if (body.task === null) throw envelopeWithoutTask(body.envelope);
  const { task } = body;
  return {
    // `task_id` is the id the docs and clients use; `id` carries the same value in variant 2.
    provider_task_id: firstNonEmptyString(task.task_id, task.id) ?? context.nativeId,
    provider_status: task.status,
    progress: toProgress(task.progress, 'percent'),
    outputs: toOutputs(task, context.baseUrl),
    // docs/providers/gravitex.md gravitex variant 3 (legacy DTO) puts the failure reason in `fail_reason`.
    error: toTaskError(task.error) ?? toTaskError(task.fail_reason),
    model: firstNonEmptyString(task.model),
    created_at: toRfc3339(task.created_at) ?? toRfc3339(task.submit_time),
    completed_at: toRfc3339(task.completed_at) ?? toRfc3339(task.finish_time),
  };
}
