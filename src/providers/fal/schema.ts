/**
 * fal queue bodies, minimal and private to the adapter: only the fields the mapper reads,
 * every one optional but the status word, unknown fields (queue_position, logs, metrics,
 * the URLs, a model's own result fields) let through. See docs/providers/fal.md.
 */
import { z } from 'zod';

/** `GET {app}/requests/{id}/status`: IN_QUEUE, IN_PROGRESS, COMPLETED (with `error` when it failed). */
export const FalStatusSchema = z.looseObject({
  status: z.string(),
  // A string in every known answer; any other shape is read as "no error" rather than refused.
  error: z.string().nullish().catch(null),
  error_type: z.string().nullish().catch(null),
});
export type FalStatus = z.infer<typeof FalStatusSchema>;

/** One file of a result, as fal's File type has it (`file_name`, `file_size` unused). */
const FileSchema = z.looseObject({
  url: z.string().nullish().catch(null),
  content_type: z.string().nullish().catch(null),
});
export type FalFile = z.infer<typeof FileSchema>;

const OneFile = FileSchema.nullish().catch(null);
const FileList = z.array(OneFile).nullish().catch(null);

/** `GET {app}/requests/{id}` once COMPLETED: the model's own output; only its file keys are read. */
export const FalResultSchema = z.looseObject({
  video: OneFile,
  videos: FileList,
  image: OneFile,
  images: FileList,
  audio: OneFile,
  audio_file: OneFile,
});
export type FalResult = z.infer<typeof FalResultSchema>;

const ValidationItemSchema = z.looseObject({
  msg: z.string().nullish().catch(null),
  type: z.string().nullish().catch(null),
});

/**
 * A result call's error answer: a model's validation error (`detail: [{loc, msg, type}]`,
 * sometimes a plain string) or a request error (`{detail, error_type}`).
 */
export const FalErrorSchema = z.looseObject({
  detail: z.union([z.string(), z.array(ValidationItemSchema.nullish().catch(null))]).nullish().catch(null),
  error_type: z.string().nullish().catch(null),
});
export type FalError = z.infer<typeof FalErrorSchema>;
