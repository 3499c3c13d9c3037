/**
 * Luma bodies, minimal and private to the adapter: a generation as Dream Machine sends it
 * (`state`, `assets`, `failure_reason`) and as the newer Agents API does (`output[]`,
 * `failure_code`), and the `{detail}` of its error answers. Only the fields the mapper
 * reads, every one optional; `request`, `generation_type` and the rest are let through.
 * The shapes are in docs/providers/luma.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** Dream Machine's files: `progress_video` (a preview while dreaming) is never a result. */
const AssetsSchema = z.looseObject({
  video: z.string().nullish(),
  image: z.string().nullish(),
});

/** One file of the Agents API's `output` list. */
const OutputSchema = z.looseObject({
  type: z.string().nullish(),
  url: z.string().nullish(),
});

/**
 * A generation in every variant: queued, dreaming (or the Agents API's processing),
 * completed with its assets or output list, failed with a reason. `state` is optional so
 * that an error body answered with HTTP 200 is recognised as one rather than as a broken
 * generation.
 */
export const GenerationSchema = z.looseObject({
  id: z.string().nullish(),
  state: z.string().nullish(),
  model: z.string().nullish(),
  created_at: TextOrNumber.nullish(),
  // Files of another shape are no files (a completed generation without one is refused later), not a broken answer.
  assets: AssetsSchema.nullish().catch(null),
  output: z.array(OutputSchema.nullish().catch(null)).nullish().catch(null),
  failure_reason: z.string().nullish().catch(null),
  failure_code: TextOrNumber.nullish().catch(null),
  // Luma's error bodies: a sentence, or a list of validation errors.
  detail: z.unknown().optional(),
});
export type Generation = z.infer<typeof GenerationSchema>;

/** `{"detail": "…"}`, or the validation form `{"detail": [{"msg": "…"}]}`. */
export const ErrorBodySchema = z.looseObject({ detail: z.unknown().optional() });
