/**
 * Gemini API bodies, minimal and private to the adapter: a long-running operation (its
 * name, `done`, `metadata`, and on completion `response` or `error`) and Google's error
 * envelope. Only the fields the mapper reads; every one optional, unknown fields let
 * through. The shapes are in docs/providers/gemini.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** One `ErrorInfo` of a google.rpc.Status's `details` (the reason says e.g. `API_KEY_INVALID`). */
const ErrorDetailSchema = z.looseObject({ reason: z.string().nullish() });

/** google.rpc.Status: an operation's failure, and the body of Google's error answers. */
export const RpcStatusSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
  status: z.string().nullish(),
  // Details only help to tell a key problem apart; a detail of another shape is no reason.
  details: z.array(ErrorDetailSchema.nullish().catch(null)).nullish().catch(null),
});
export type RpcStatus = z.infer<typeof RpcStatusSchema>;

/** `{"error": {code, message, status}}`, Google's error envelope. */
export const ErrorEnvelopeSchema = z.looseObject({ error: RpcStatusSchema });

/**
 * Where the safety filter says it removed the videos: inside `generateVideoResponse`, and
 * tolerated one level up, on `response` itself. The reasons are only a message: a list of
 * another shape leaves the filter's sentence in its place.
 */
const FilterFields = {
  raiMediaFilteredCount: TextOrNumber.nullish().catch(null),
  raiMediaFilteredReasons: z.array(z.unknown()).nullish().catch(null),
};

const SampleSchema = z.looseObject({
  video: z.looseObject({ uri: z.string().nullish() }).nullish(),
});

const GenerateVideoResponseSchema = z.looseObject({
  generatedSamples: z.array(SampleSchema.nullish()).nullish(),
  ...FilterFields,
});

/** A Veo operation in every variant: running with or without `done`, done with samples, an error, or nothing (filtered). */
export const OperationSchema = z.looseObject({
  name: z.string().nullish(),
  done: z.boolean().nullish(),
  // Progress is a relay's addition (docs/providers/gemini.md): metadata of another shape is no progress, not a broken task.
  metadata: z.looseObject({ progressPercent: TextOrNumber.nullish() }).nullish().catch(null),
  response: z
    .looseObject({
      generateVideoResponse: GenerateVideoResponseSchema.nullish(),
      ...FilterFields,
    })
    .nullish(),
  // A bare string is tolerated as a failure's message.
  error: z.union([z.string(), RpcStatusSchema]).nullish(),
});
export type Operation = z.infer<typeof OperationSchema>;
