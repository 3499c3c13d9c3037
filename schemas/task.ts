import { z } from 'zod';

/** The only status words a client ever sees; every provider word is mapped onto these. */
export const TASK_STATUSES = ['queued', 'in_progress', 'succeeded', 'failed', 'canceled'] as const;
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'canceled']);

export const TaskStatusSchema = z.enum(TASK_STATUSES).meta({
  id: 'TaskStatus',
  description: 'Normalized task status. Upstream words outside the mapping become `in_progress`.',
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export const OUTPUT_TYPES = ['video', 'image', 'audio', 'file'] as const;

export const TaskOutputSchema = z
  .object({
    type: z.enum(OUTPUT_TYPES),
    url: z.string().describe('Absolute http(s) URL of the result file').meta({ format: 'uri' }),
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
    url: z
      .string()
      .meta({ format: 'uri' })
      .nullable()
      .describe('The first video output, else the first output; an absolute http(s) URL, set when succeeded'),
    outputs: z.array(TaskOutputSchema),
    error: TaskErrorSchema.nullable().describe('Set exactly when status is `failed`'),
    model: z.string().nullable(),
    created_at: z
      .string()
      .meta({ format: 'date-time' })
      .nullable()
      .describe('When the provider accepted the task, RFC 3339 UTC; null when it does not say'),
    completed_at: z
      .string()
      .meta({ format: 'date-time' })
      .nullable()
      .describe('When the task finished, RFC 3339 UTC; null while it runs or when the provider does not say'),
    poll_after_ms: z
      .number()
      .int()
      .nonnegative()
      .nullable()
      .describe('For non-terminal tasks: how long to wait before asking again; null when terminal'),
  })
  .meta({
    id: 'Task',
    description: 'A generation task in the normalized shape, whichever provider runs it.',
  });
export type Task = z.infer<typeof TaskSchema>;

/** What a provider adapter produces: the Task minus what the gateway itself fills in. */
export type TaskState = Omit<Task, 'id' | 'provider' | 'poll_after_ms'>;

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/**
 * A Task as JSON, byte for byte what zod's parse + JSON.stringify made of it (a new object
 * in the schema's field order, unknown keys dropped), without re-validating: every Task is
 * built by toTask from a TaskState that finalizeTask already checked (profiled in issue 6:
 * re-parsing every 200 cost more than the rest of the cached path).
 */
export function serializeTask(task: Task): string {
  return JSON.stringify({
    id: task.id,
    provider: task.provider,
    provider_task_id: task.provider_task_id,
    status: task.status,
    provider_status: task.provider_status,
    progress: task.progress,
    url: task.url,
    outputs: task.outputs.map((output) => ({ type: output.type, url: output.url })),
    error: task.error === null ? null : { code: task.error.code, message: task.error.message },
    model: task.model,
    created_at: task.created_at,
    completed_at: task.completed_at,
    poll_after_ms: task.poll_after_ms,
  });
}
