/**
 * OpenRouter's video job body, minimal and private to the adapter: the fields the mapper
 * reads, every one optional, unknown fields (polling_url, generation_id, usage…) let
 * through. The shapes are in docs/providers/openrouter.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/**
 * An error as an object: OpenRouter's own envelope (`{code: <HTTP status>, message,
 * metadata}`) and a failure some job bodies may carry in place of the documented string.
 */
export const OpenRouterErrorSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
});
export type OpenRouterError = z.infer<typeof OpenRouterErrorSchema>;

/**
 * One video job in every variant: pending, in_progress, completed with its `unsigned_urls`,
 * failed (`error` a string, or an object), expired, cancelled. `status` is optional so that
 * an error envelope answered with HTTP 200 is recognised as one rather than as a broken job.
 */
export const VideoJobSchema = z.looseObject({
  id: TextOrNumber.nullish(),
  status: z.string().nullish(),
  // A list of URLs once completed; the mapper reads its strings and nothing else.
  unsigned_urls: z.unknown().optional(),
  // An error of another shape is no detail (a failed job then gets the generic failure), not a broken answer.
  error: z.union([z.string(), OpenRouterErrorSchema]).nullish().catch(null),
});
export type VideoJob = z.infer<typeof VideoJobSchema>;
