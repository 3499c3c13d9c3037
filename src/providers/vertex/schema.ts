/**
 * Vertex AI's answers, minimal and private to the adapter: the long-running operation that
 * `fetchPredictOperation` returns, the service-account key file, and the OAuth token
 * endpoint's answer. Every field optional but what the adapter cannot do without; unknown
 * fields let through. The variants are in docs/providers/vertex.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** google.rpc.Status: `{code, message, status}`. */
const OperationErrorSchema = z.looseObject({
  code: TextOrNumber.nullish(),
  status: z.string().nullish(),
  message: z.string().nullish(),
});

/** One generated video: in Cloud Storage (`gcsUri`) or inline (`bytesBase64Encoded`). */
const VideoSchema = z.looseObject({
  gcsUri: z.string().nullish(),
  bytesBase64Encoded: z.string().nullish(),
  mimeType: z.string().nullish(),
  encoding: z.string().nullish(),
});
export type OperationVideo = z.infer<typeof VideoSchema>;

/**
 * `response` of a finished operation: `videos[]`, or (seen by relays) one video inline at
 * the top (`bytesBase64Encoded` or `video`, typed by `mimeType`/`encoding`), and the
 * safety filter's `raiMediaFilteredCount`/`raiMediaFilteredReasons`.
 */
const ResponseSchema = z.looseObject({
  // An item of another shape is no video, not a broken answer: the others still count.
  videos: z.array(VideoSchema.nullable().catch(null)).nullish(),
  bytesBase64Encoded: z.string().nullish(),
  video: z.string().nullish(),
  mimeType: z.string().nullish(),
  encoding: z.string().nullish(),
  raiMediaFilteredCount: TextOrNumber.nullish(),
  raiMediaFilteredReasons: z.array(z.unknown()).nullish(),
});
export type OperationResponse = z.infer<typeof ResponseSchema>;

/** A long-running operation: running while `done` is absent or false. */
export const OperationSchema = z.looseObject({
  name: z.string().nullish(),
  done: z.boolean().nullish(),
  response: ResponseSchema.nullish(),
  error: OperationErrorSchema.nullish(),
});
export type Operation = z.infer<typeof OperationSchema>;

/** The fields of a service-account key file the adapter uses (Google's JSON key format). */
export const ServiceAccountSchema = z.looseObject({
  type: z.literal('service_account'),
  project_id: z.string().min(1),
  private_key_id: z.string().min(1).nullish(),
  private_key: z.string().min(1),
  client_email: z.string().min(1),
  token_uri: z.url({ protocol: /^https?$/ }).nullish(),
  quota_project_id: z.string().min(1).nullish(),
});

/** The token endpoint's answer to the JWT bearer grant. */
export const TokenAnswerSchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).nullish(),
  token_type: z.string().nullish(),
});
