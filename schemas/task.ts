/**
 * The normalized Task: the one shape every provider's task comes back in (docs/task-api.md). Its field list is written here once; the JSON the gateway sends is
 * derived from it.
 */
import { z } from 'zod';

/** The only status words a client ever sees; every provider word is mapped onto these. */
export const TASK_STATUSES = ['queued', 'in_progress', 'succeeded', 'failed', 'canceled'] as const;

export const TaskStatusSchema = z.enum(TASK_STATUSES).meta({
  id: 'TaskStatus',
  description: 'Normalized task status. Upstream words outside the mapping become `in_progress`.',
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set<TaskStatus>(['succeeded', 'failed', 'canceled']);

export const OUTPUT_TYPES = ['video', 'image', 'audio', 'file'] as const;

const absoluteUrl = z.string().meta({ format: 'uri' });
const instant = z.string().meta({ format: 'date-time' });

export const TaskOutputSchema = z
  .object({
    type: z.enum(OUTPUT_TYPES),
    url: absoluteUrl.describe(
      "Absolute http(s) URL of the result file. A file that needs the provider's key is served by the gateway (`…/tasks/{id}/content?output=N`).",
    ),
  })
  .meta({ id: 'TaskOutput', description: 'One result file of a task.' });
export type TaskOutput = z.infer<typeof TaskOutputSchema>;

export const TaskErrorSchema = z
  .object({
    code: z.string().describe('Provider error code as a string, or `task_failed`'),
    message: z.string(),
  })
  .meta({ id: 'TaskError', description: 'Why a task failed, as reported by its provider.' });
export type TaskError = z.infer<typeof TaskErrorSchema>;

export const TaskSchema = z
  .object({
    id: z.string().describe('The id as given in the request path'),
    provider: z.string().describe('Provider that holds the task, e.g. `vtrix` or `gravitex`'),
    provider_task_id: z.string().describe("The provider's native task id"),
    status: TaskStatusSchema,
    provider_status: z.string().describe('The raw status word the provider sent'),
    progress: z.number().int().min(0).max(100).nullable().describe('Percent complete, 100 when succeeded'),
    url: absoluteUrl
      .nullable()
      .describe('The first video output, else the first output; an absolute http(s) URL, set when succeeded'),
    outputs: z.array(TaskOutputSchema),
    error: TaskErrorSchema.nullable().describe('Set exactly when status is `failed`'),
    model: z.string().nullable(),
    created_at: instant
      .nullable()
      .describe('When the provider accepted the task, RFC 3339 UTC in whole seconds; null when it does not say'),
    completed_at: instant
      .nullable()
      .describe('When the task finished, RFC 3339 UTC in whole seconds; null while it runs or when the provider does not say'),
    poll_after_ms: z
      .number()
      .int()
      .nonnegative()
      .nullable()
      .describe(
        "For non-terminal tasks: how long to wait before asking again, from the provider's cadence; a reused answer counts down to the gateway's next refresh. Null when terminal",
      ),
    content_url: absoluteUrl
      .nullable()
      .describe('For a succeeded task: the gateway URL that streams its primary output (`GET /tasks/{id}/content`); null otherwise'),
    expires_at: instant
      .nullable()
      .describe(
        "When the task's result files stop being served, RFC 3339 UTC: the result archive's retention end once it holds them (null when it keeps them for good), else when the provider says its files expire; null when unknown",
      ),
    archived_at: instant
      .nullable()
      .describe('When the result archive stored every output of the task, RFC 3339 UTC; null until then, and always null when the archive is off'),
  })
  .meta({
    id: 'Task',
    description: 'A generation task in the normalized shape, whichever provider runs it.',
  });
export type Task = z.infer<typeof TaskSchema>;

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/**
 * A Task as JSON: the schema's fields, in its order, and nothing else the object carries.
 * Not re-validated: every Task is built from a state that finalizeTask already checked,
 * and its outputs and error are made by the gateway with exactly their schemas' fields
 * (profiled: re-parsing every 200 cost more than the rest of the cached path).
 */
export function serializeTask(task: Task): string {
  // A literal in the schema's order (a test holds it to TaskSchema's shape): copying field by
  // field into an empty object cost half as much again as the stringify itself.
  const fields: Record<keyof Task, unknown> = {
    id: task.id,
    provider: task.provider,
    provider_task_id: task.provider_task_id,
    status: task.status,
    provider_status: task.provider_status,
    progress: task.progress,
    url: task.url,
    outputs: task.outputs,
    error: task.error,
    model: task.model,
    created_at: task.created_at,
    completed_at: task.completed_at,
    poll_after_ms: task.poll_after_ms,
    content_url: task.content_url,
    expires_at: task.expires_at,
    archived_at: task.archived_at,
  };
  return JSON.stringify(fields);
}
