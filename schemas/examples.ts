/**
 * Realistic example values for the OpenAPI document: what a running, a succeeded and a
 * failed task look like, and a batch answer. Typed against the schemas, so they cannot
 * drift from the contract; the OpenAPI lint checks them against the generated spec too.
 */
import type { BatchResult } from './batch.js';
import type { Task } from './task.js';

export const RUNNING_TASK = {
  id: 'd758n65e878c73cmdg20',
  provider: 'vtrix',
  provider_task_id: 'd758n65e878c73cmdg20',
  status: 'in_progress',
  provider_status: 'processing',
  progress: 42,
  url: null,
  outputs: [],
  error: null,
  model: 'spark_dance_v2_0',
  created_at: '2026-04-10T14:32:05Z',
  completed_at: null,
  poll_after_ms: 5000,
  content_url: null,
  expires_at: null,
  archived_at: null,
} as const satisfies Task;

export const SUCCEEDED_TASK = {
  id: 'video_69095b4ce0048190893a01510c0c98b0',
  provider: 'gravitex',
  provider_task_id: 'video_69095b4ce0048190893a01510c0c98b0',
  status: 'succeeded',
  provider_status: 'completed',
  progress: 100,
  url: 'https://cdn.gravitex.ai/videos/video_69095b4ce0048190893a01510c0c98b0.mp4',
  outputs: [
    { type: 'video', url: 'https://cdn.gravitex.ai/videos/video_69095b4ce0048190893a01510c0c98b0.mp4' },
    { type: 'image', url: 'https://cdn.gravitex.ai/videos/video_69095b4ce0048190893a01510c0c98b0.jpg' },
  ],
  error: null,
  model: 'veo-3.1-fast',
  created_at: '2026-04-10T14:32:05Z',
  completed_at: '2026-04-10T14:32:51Z',
  poll_after_ms: null,
  content_url: 'https://taskgate.example/tasks/video_69095b4ce0048190893a01510c0c98b0/content',
  expires_at: null,
  archived_at: null,
} as const satisfies Task;

export const FAILED_TASK = {
  id: 'vtrix:d758n65e878c73cmdg22',
  provider: 'vtrix',
  provider_task_id: 'd758n65e878c73cmdg22',
  status: 'failed',
  provider_status: 'failed',
  progress: null,
  url: null,
  outputs: [],
  error: { code: '2014001', message: 'Input image failed the content check' },
  model: 'spark_dance_v2_0',
  created_at: '2026-04-10T14:32:05Z',
  completed_at: '2026-04-10T14:32:19Z',
  poll_after_ms: null,
  content_url: null,
  expires_at: null,
  archived_at: null,
} as const satisfies Task;

const ARCHIVED_CONTENT = 'https://taskgate.example/tasks/video_69095b4ce0048190893a01510c0c98b0/content';

/** The same task on a gateway with the result archive on: every URL is the gateway's own, and never changes. */
export const ARCHIVED_TASK = {
  ...SUCCEEDED_TASK,
  url: `${ARCHIVED_CONTENT}?output=0`,
  outputs: [
    { type: 'video', url: `${ARCHIVED_CONTENT}?output=0` },
    { type: 'image', url: `${ARCHIVED_CONTENT}?output=1` },
  ],
  expires_at: '2026-05-10T14:33:02Z',
  archived_at: '2026-04-10T14:33:02Z',
} as const satisfies Task;

/** Named examples for a 200 `Task` response, as OpenAPI Example Objects. */
export const TASK_EXAMPLES = {
  running: { summary: 'A task still being generated', value: RUNNING_TASK },
  succeeded: { summary: 'A finished task with its video', value: SUCCEEDED_TASK },
  archived: { summary: 'A finished task whose files the result archive holds (TASKGATE_ARCHIVE)', value: ARCHIVED_TASK },
  failed: { summary: 'A task the provider reported as failed (still a 200)', value: FAILED_TASK },
};

export const BATCH_RESULT_EXAMPLE = {
  results: [
    { id: RUNNING_TASK.id, ok: true, task: RUNNING_TASK },
    { id: SUCCEEDED_TASK.id, ok: true, task: SUCCEEDED_TASK },
    {
      id: 'task_gone0001',
      ok: false,
      problem: {
        type: '/problems/task_not_found',
        title: 'Task not found',
        status: 404,
        detail: 'No provider among vtrix, gravitex has this task.',
        code: 'task_not_found',
        request_id: 'req-7f3a9c',
      },
    },
    {
      id: 'bad id!',
      ok: false,
      problem: {
        type: '/problems/invalid_task_id',
        title: 'Invalid task id',
        status: 400,
        detail: 'A task id is 1-200 characters of letters, digits, ".", "_", ":" and "-".',
        code: 'invalid_task_id',
        request_id: 'req-7f3a9c',
      },
    },
  ],
} as const satisfies BatchResult;
