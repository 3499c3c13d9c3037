/**
 * Replicate bodies, minimal and private to the adapter: a prediction (only the fields the
 * mapper reads, every one optional but `status`; `input`, `logs`, `urls`, `metrics`,
 * `version`, `source`… let through) and the `{detail}` of its error answers. The shapes
 * are in docs/providers/replicate.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** A failure as relays pass it on: `{detail}` or `{message}` (and perhaps a code) instead of Replicate's string. */
const ErrorObjectSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  detail: z.string().nullish(),
});

export const PredictionSchema = z.looseObject({
  id: z.string().nullish(),
  model: z.string().nullish(),
  status: z.string(),
  // Model-defined: a URL, a list of URLs, an object of them, or any other JSON; the mapper walks it.
  output: z.unknown().optional(),
  // An error of another shape is a failure without details, not a broken answer.
  error: z.union([z.string(), ErrorObjectSchema]).nullish().catch(null),
  created_at: TextOrNumber.nullish(),
  completed_at: TextOrNumber.nullish(),
  data_removed: z.boolean().nullish().catch(null),
});
export type Prediction = z.infer<typeof PredictionSchema>;

/** Replicate's error answers (404, 429, 401…): `{"detail": "…"}`, sometimes with `title` and `status`. */
export const ErrorBodySchema = z.looseObject({ detail: z.string().nullish() });
