/**
 * PixVerse's answer, minimal and private to the adapter: the `{ErrCode, ErrMsg, Resp}`
 * envelope every answer carries, and of `Resp` only what the mapper reads. Unknown fields
 * (prompt, seed, outputWidth…) are let through. Shapes in docs/providers/pixverse.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** `Resp` of the status call: `status` an integer (a numeric string tolerated), `url` empty until it is 1. */
export const VideoResultSchema = z.looseObject({
  // A JSON number may have lost digits past 2^53: never read as the task's id.
  id: TextOrNumber.nullish().catch(null),
  status: TextOrNumber.nullish(),
  url: z.string().nullish().catch(null),
});
export type VideoResult = z.infer<typeof VideoResultSchema>;

export const EnvelopeSchema = z.looseObject({
  ErrCode: TextOrNumber.nullish(),
  ErrMsg: z.string().nullish().catch(null),
  // An error answer may send anything as `Resp` (null, {}, a string): the ErrCode decides first.
  Resp: VideoResultSchema.nullish().catch(null),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;
