/**
 * Ark content-generation task bodies, minimal and private to the adapter: the fields the
 * mapper reads, every one optional, unknown fields (seed, resolution, ratio, duration,
 * framespersecond, service_tier, usage…) let through. The shapes are in
 * docs/providers/ark.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** Ark's error object: a task's failure, and the body of its HTTP errors (`type` names the HTTP class). */
export const ArkErrorSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  type: z.string().nullish(),
});
export type ArkError = z.infer<typeof ArkErrorSchema>;

/** `{"error": {code, message, param, type}}`, Ark's error envelope. */
export const ErrorEnvelopeSchema = z.looseObject({ error: ArkErrorSchema });

/** Where a succeeded task's files are; `last_frame_url` only when the request asked for it. */
const ContentSchema = z.looseObject({
  video_url: z.string().nullish(),
  last_frame_url: z.string().nullish(),
});

/**
 * One task in every variant: running (no content), succeeded (content), failed (error),
 * expired (with or without an error), cancelled. `status` is optional so that an error
 * envelope answered with HTTP 200 is recognised as one rather than as a broken task.
 */
export const ArkTaskSchema = z.looseObject({
  id: TextOrNumber.nullish(),
  model: z.string().nullish(),
  status: z.string().nullish(),
  // Content of another shape is no file (a succeeded task without one is refused later), not a broken answer.
  content: ContentSchema.nullish().catch(null),
  // A bare string is tolerated as a failure's message.
  error: z.union([z.string(), ArkErrorSchema]).nullish(),
  created_at: TextOrNumber.nullish(),
  updated_at: TextOrNumber.nullish(),
});
export type ArkTask = z.infer<typeof ArkTaskSchema>;
