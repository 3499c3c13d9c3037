/**
 * Vidu's task body, minimal and private to the adapter: the answer of
 * `GET /ent/v2/tasks/{id}/creations` in the documented shape and in the relays' copies
 * (which add the task `id`, `created_at` and each creation's `watermarked_url`). Only the
 * fields the mapper reads; unknown fields let through. Shapes in docs/providers/vidu.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** One generated result: the video (`url`) and its cover image (`cover_url`). */
const CreationSchema = z.looseObject({
  url: z.string().nullish().catch(null),
  cover_url: z.string().nullish().catch(null),
  watermarked_url: z.string().nullish().catch(null),
});
export type Creation = z.infer<typeof CreationSchema>;

export const ViduTaskSchema = z.looseObject({
  state: z.string(),
  // A relay's copy names the task; Vidu's own answer does not.
  id: TextOrNumber.nullish().catch(null),
  err_code: z.string().nullish().catch(null),
  created_at: TextOrNumber.nullish().catch(null),
  // A list of another shape (or an entry of another shape) is no result, not a broken answer: the state decides.
  creations: z.array(CreationSchema.nullish().catch(null)).nullish().catch(null),
});
export type ViduTask = z.infer<typeof ViduTaskSchema>;
