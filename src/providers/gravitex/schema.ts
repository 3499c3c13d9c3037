/**
 * gravitex upstream bodies, minimal and private to the adapter: only the fields the mapper
 * reads, every one optional, unknown fields (object, seconds, metadata, action…) let through.
 * See docs/providers/gravitex.md for the three variants.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

const ErrorObjectSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  error_message: z.string().nullish(),
});

/**
 * One task, in any of docs/providers/gravitex.md gravitex variants: 1 (documented flat: `task_id`, `url`,
 * `format`, numeric error code), 2 (the `data` of the wrapper: `id`, `video_url`, string
 * error code) and 3 (legacy DTO: upper-case status, "30%", `fail_reason`, `result_url`).
 */
export const GravitexTaskSchema = z.looseObject({
  id: TextOrNumber.nullish(),
  task_id: TextOrNumber.nullish(),
  model: z.string().nullish(),
  status: z.string(),
  progress: TextOrNumber.nullish(),
  format: z.string().nullish(),
  url: z.string().nullish(),
  video_url: z.string().nullish(),
  result_url: z.string().nullish(),
  created_at: TextOrNumber.nullish(),
  completed_at: TextOrNumber.nullish(),
  // Inference: the legacy DTO's own time fields, used when created_at/completed_at are absent.
  submit_time: TextOrNumber.nullish(),
  finish_time: TextOrNumber.nullish(),
  error: z.union([z.string(), ErrorObjectSchema]).nullish(),
  fail_reason: z.string().nullish(),
});
export type GravitexTask = z.infer<typeof GravitexTaskSchema>;

/** docs/providers/gravitex.md gravitex variants 2 and 3: `{code: "success", message, data: {...}}`. */
const EnvelopeSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  // A broken `data` is kept as null so the mapper can still read the envelope's own verdict.
  data: GravitexTaskSchema.nullish().catch(null),
});

/** Any gravitex 2xx body, as the task (when there is one) and the envelope (when wrapped). */
export const GravitexBodySchema = z.union([
  GravitexTaskSchema.transform((task) => ({ task, envelope: null })),
  EnvelopeSchema.transform(({ data, code, message }) => {
    const envelope = { code: code ?? null, message: message ?? null };
    return data ? { task: data, envelope } : { task: null, envelope };
  }),
]);
export type GravitexBody = z.infer<typeof GravitexBodySchema>;
export interface GravitexEnvelope {
  code: string | number | null;
  message: string | null;
}
