/**
 * POST /tasks/batch: many task ids in, one result per id out, in request order. Each
 * result says with a boolean `ok` whether it holds a Task or a Problem, so a generated
 * client narrows it with a plain `if (item.ok)`.
 */
import { z } from 'zod';
import { ProblemSchema } from './problem.js';
import { TaskSchema } from './task.js';

export const MAX_BATCH_IDS = 100;

export const BatchRequestSchema = z
  .object({
    ids: z
      .array(z.string())
      .min(1)
      .max(MAX_BATCH_IDS)
      .describe(
        `1-${MAX_BATCH_IDS} task ids, in the form \`GET /tasks/{id}\` takes. An id that is not valid gets its own \`invalid_task_id\` result; it does not fail the batch. Repeated ids are looked up once.`,
      ),
  })
  .meta({ id: 'BatchRequest', description: 'The task ids to look up.' });
export type BatchRequest = z.infer<typeof BatchRequestSchema>;

const itemId = z.string().describe('The id exactly as it appeared in the request');

export const BatchTaskItemSchema = z
  .object({ id: itemId, ok: z.literal(true), task: TaskSchema })
  .meta({ id: 'BatchTaskItem', description: 'The lookup of this id succeeded (the task itself may have failed: see `task.status`).' });

export const BatchProblemItemSchema = z
  .object({
    id: itemId,
    ok: z.literal(false),
    problem: ProblemSchema.describe('What `GET /tasks/{id}` would have answered for this id; `status` is that HTTP status'),
  })
  .meta({ id: 'BatchProblemItem', description: 'The lookup of this id failed; the other ids are not affected.' });

export const BatchItemSchema = z
  .discriminatedUnion('ok', [BatchTaskItemSchema, BatchProblemItemSchema])
  .meta({ id: 'BatchItem', description: 'The result for one requested id: `ok: true` with a `task`, or `ok: false` with a `problem`.' });
export type BatchItem = z.infer<typeof BatchItemSchema>;

export const BatchResultSchema = z
  .object({
    results: z.array(BatchItemSchema).describe('One item per requested id, in request order (repeated ids repeat their item)'),
  })
  .meta({ id: 'BatchResult', description: 'The outcome of a batch lookup.' });
export type BatchResult = z.infer<typeof BatchResultSchema>;
