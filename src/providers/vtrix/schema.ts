/**
 * vtrix upstream bodies, minimal and private to the adapter: only the fields the mapper
 * reads, every one optional, unknown fields (usage, metadata, jobId…) let through.
 * See docs/providers/vtrix.md for the three variants.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

const ContentItemSchema = z.looseObject({
  type: z.string().nullish(),
  url: z.string().nullish(),
});

const OutputItemSchema = z.looseObject({
  content: z.array(ContentItemSchema.nullish()).nullish(),
});

const ErrorObjectSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  error_message: z.string().nullish(),
});

/** docs/providers/vtrix.md vtrix variants 1 (current, `id`) and 2 (CLI-documented, `task_id`, ISO times). */
export const VtrixTaskSchema = z.looseObject({
  id: TextOrNumber.nullish(),
  task_id: TextOrNumber.nullish(),
  model: z.string().nullish(),
  status: z.string(),
  progress: TextOrNumber.nullish(),
  created_at: TextOrNumber.nullish(),
  completed_at: TextOrNumber.nullish(),
  output: z.array(OutputItemSchema.nullish()).nullish(),
  error: z.union([z.string(), ErrorObjectSchema]).nullish(),
});
export type VtrixTask = z.infer<typeof VtrixTaskSchema>;

/** docs/providers/vtrix.md vtrix variant 3 (legacy wrapped): the top-level `status` is this object. */
const EnvelopeStatusSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
});
export type VtrixEnvelopeStatus = z.infer<typeof EnvelopeStatusSchema>;

const LegacyEnvelopeSchema = z.looseObject({
  // A broken `data` is kept as null so the mapper can still read the envelope's own verdict.
  data: VtrixTaskSchema.nullish().catch(null),
  status: EnvelopeStatusSchema,
});

/** Any vtrix 2xx body, as the task (when there is one) and the legacy envelope status (when wrapped). */
export const VtrixBodySchema = z.union([
  VtrixTaskSchema.transform((task) => ({ task, envelope: null })),
  LegacyEnvelopeSchema.transform(({ data, status: envelope }) =>
    data ? { task: data, envelope } : { task: null, envelope },
  ),
]);
export type VtrixBody = z.infer<typeof VtrixBodySchema>;
