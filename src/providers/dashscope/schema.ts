/**
 * DashScope bodies, minimal and private to the adapter: the answer of `GET
 * /api/v1/tasks/{task_id}` (`output` holding the task) and the error envelope (`code` and
 * `message` at the top, no `output`). Only the fields the mapper reads; unknown fields let
 * through. The shapes are in docs/providers/dashscope.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

/** One entry of an image task's `results`: a file, or a failed sub-task's `code` and `message`. */
const ResultSchema = z.looseObject({
  url: z.string().nullish().catch(null),
  code: TextOrNumber.nullish().catch(null),
  message: z.string().nullish().catch(null),
});

/** `output`: the task, in every state; times are zone-less strings (`2026-05-01 18:05:15.212`). */
const OutputSchema = z.looseObject({
  task_id: z.string().nullish(),
  task_status: z.string().nullish(),
  submit_time: TextOrNumber.nullish().catch(null),
  end_time: TextOrNumber.nullish().catch(null),
  video_url: z.string().nullish(),
  // An entry of another shape is no file (and no reason): the others still count.
  results: z.array(ResultSchema.nullish().catch(null)).nullish(),
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
});
export type Output = z.infer<typeof OutputSchema>;

/** The whole answer: `output` for a task (`UNKNOWN` included), or `code`/`message` for an API error. */
export const TaskBodySchema = z.looseObject({
  output: OutputSchema.nullish(),
  code: TextOrNumber.nullish(),
  message: z.string().nullish(),
});
export type TaskBody = z.infer<typeof TaskBodySchema>;
