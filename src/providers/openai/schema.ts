/**
 * OpenAI Videos bodies (and the copies of them), minimal and private to the adapter: only
 * the fields the mapper reads, every one optional but `status`; unknown fields (object,
 * prompt, seconds, size, remixed_from_video_id, cost…) let through.
 * See docs/providers/openai.md for the three variants.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

const ErrorObjectSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
});

/** docs/providers/openai.md openai variant 2 (hosted copies, e.g. Together AI): a public result URL. */
const OutputsSchema = z.looseObject({
  video_url: z.string().nullish(),
});

/**
 * One video job in any of docs/providers/openai.md openai variants: 1 (OpenAI: no URL, Unix seconds),
 * 2 (hosted copies: `outputs.video_url`) and 3 (relays: `created_at` in milliseconds,
 * their own id forms).
 */
export const OpenAiVideoSchema = z.looseObject({
  id: TextOrNumber.nullish(),
  model: z.string().nullish(),
  status: z.string(),
  progress: TextOrNumber.nullish(),
  created_at: TextOrNumber.nullish(),
  completed_at: TextOrNumber.nullish(),
  expires_at: TextOrNumber.nullish(),
  error: z.union([z.string(), ErrorObjectSchema]).nullish(),
  // An `outputs` of another shape is no result URL, not a broken task: the content endpoint stands in.
  outputs: OutputsSchema.nullish().catch(null),
});
export type OpenAiVideo = z.infer<typeof OpenAiVideoSchema>;
