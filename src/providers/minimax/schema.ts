/**
 * MiniMax bodies, minimal and private to the adapter: the two answers of a lookup (the
 * task query and the file retrieval), each with the `base_resp` envelope every MiniMax
 * answer carries. Only the fields the mapper reads; unknown fields let through. See
 * docs/providers/minimax.md for the shapes and the `file_id` type drift.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** `{status_code, status_msg}`: 0 is success; anything else is an API error, even in an HTTP 200. */
export const BaseRespSchema = z.looseObject({
  status_code: TextOrNumber.nullish(),
  status_msg: z.string().nullish(),
});
export type BaseResp = z.infer<typeof BaseRespSchema>;

/** `GET /v1/query/video_generation?task_id=…`: `file_id` a string (or a number, the other reading). */
export const QueryBodySchema = z.looseObject({
  task_id: TextOrNumber.nullish(),
  status: z.string().nullish(),
  file_id: TextOrNumber.nullish(),
  base_resp: BaseRespSchema.nullish(),
});
export type QueryBody = z.infer<typeof QueryBodySchema>;

const FileSchema = z.looseObject({
  file_id: TextOrNumber.nullish(),
  created_at: TextOrNumber.nullish(),
  download_url: z.string().nullish(),
});

/** `GET /v1/files/retrieve?file_id=…`: `file.file_id` a number (or a string), `created_at` Unix seconds. */
export const FileBodySchema = z.looseObject({
  // A `file` of another shape is no file (an error answer may send anything there): the envelope decides.
  file: FileSchema.nullish().catch(null),
  base_resp: BaseRespSchema.nullish(),
});
export type FileBody = z.infer<typeof FileBodySchema>;
