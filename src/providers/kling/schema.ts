/**
 * Kling's answers, minimal and private to the adapter: the envelope `{code, message,
 * request_id, data}` and the task inside `data` (docs/providers/kling.md, "Answers").
 * Only the fields the mapper reads; unknown fields (task_info, watermark_info, final_unit_deduction…)
 * let through, and a file list of an odd shape counts as no file rather than a broken task.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** Every answer, success or error, HTTP 200 or not. */
export const KlingEnvelopeSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  request_id: z.string().nullish(),
  data: z.unknown().optional(),
});
export type KlingEnvelope = z.infer<typeof KlingEnvelopeSchema>;

const FileSchema = z.looseObject({ url: z.string().nullish().catch(null) });
const FileListSchema = z.array(FileSchema.nullable().catch(null)).nullish().catch(null);

const TaskResultSchema = z.looseObject({
  videos: FileListSchema,
  images: FileListSchema,
});

/** `data` of a status answer: one task. */
export const KlingTaskSchema = z.looseObject({
  task_id: TextOrNumber.nullish(),
  task_status: z.string(),
  task_status_msg: z.string().nullish().catch(null),
  task_result: TaskResultSchema.nullish().catch(null),
  created_at: TextOrNumber.nullish().catch(null),
  updated_at: TextOrNumber.nullish().catch(null),
});
export type KlingTask = z.infer<typeof KlingTaskSchema>;
