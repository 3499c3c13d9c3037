/**
 * Pure mapping of a parsed OpenAI Videos body onto a TaskDraft (finalizeTask does the rest).
 */
import type { TaskOutput } from '../../../schemas/task.js';
import {
  firstNonEmptyString,
  resolveResultUrl,
  toProgress,
  toRfc3339,
  toTaskError,
  COMMON_STATUS_WORDS,
  StatusTable,
} from '../normalize.js';
import type { TaskDraft } from '../types.js';
import type { InterpretContext } from '../define.js';
import type { OpenAiVideo } from './schema.js';

export const OPENAI_NAME = 'openai';

const STATUSES = new StatusTable(COMMON_STATUS_WORDS);

/** The content endpoint's file kinds that are outputs (the spritesheet is a player aid, not a result). */
type ContentVariant = 'video' | 'thumbnail';

/** `{base}/v1/videos/{id}/content?variant=…`: on the provider's own origin, so it needs our key. */
export function contentEndpoint(baseUrl: string, nativeId: string, variant: ContentVariant): string {
  return `${baseUrl.replace(/\/+$/, '')}/v1/videos/${encodeURIComponent(nativeId)}/content?variant=${variant}`;
}

/**
 * docs/providers/openai.md openai: variant 2 names a public file in `outputs.video_url`; variants 1 and 3
 * carry no URL at all, their result is the content endpoint (the video, plus its thumbnail).
 */
function toOutputs(video: OpenAiVideo, context: InterpretContext): TaskOutput[] {
  if (STATUSES.known(video.status) !== 'succeeded') return [];
  const publicUrl = resolveResultUrl(video.outputs?.video_url, context.baseUrl);
  if (publicUrl !== null) return [{ type: 'video', url: publicUrl }];
  return [
    { type: 'video', url: contentEndpoint(context.baseUrl, context.nativeId, 'video') },
    { type: 'image', url: contentEndpoint(context.baseUrl, context.nativeId, 'thumbnail') },
  ];
}

export function toTaskDraft(video: OpenAiVideo, context: InterpretContext): TaskDraft {
  return {
    provider_task_id: firstNonEmptyString(video.id) ?? context.nativeId,
    provider_status: video.status,
    progress: toProgress(video.progress, 'percent'),
    outputs: toOutputs(video, context),
    error: toTaskError(video.error),
    model: firstNonEmptyString(video.model),
    // Variant 3 sends created_at in milliseconds: toRfc3339 tells the two apart by size.
    created_at: toRfc3339(video.created_at),
    completed_at: toRfc3339(video.completed_at),
    expires_at: toRfc3339(video.expires_at),
  };
}
