import { z } from 'zod';
import { TASK_ID_PATTERN_SOURCE } from '../src/routing.js';

export const MAX_WAIT_SECONDS = 60;

export const TaskParamsSchema = z.object({
  id: z
    .string()
    .describe(
      'A task id: qualified as `<provider>:<native id>` (e.g. `vtrix:d758n65e878c73cmdg20`), or bare and routed by prefix (`video_…` → gravitex, 20-char xid → vtrix, `task_…` → vtrix then gravitex).',
    )
    .meta({ pattern: TASK_ID_PATTERN_SOURCE, example: 'task_abc001' }),
});

export const WaitQuerySchema = z.object({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe('Seconds (0-60) to hold the request while the task is not terminal; wins over `Prefer: wait`'),
});

export const PreferHeaderSchema = z.object({
  prefer: z
    .string()
    .optional()
    .describe('RFC 7240 preferences; `wait=N` (0-60) holds the request like `?wait=N`'),
});

export const TaskRequestHeadersSchema = PreferHeaderSchema.extend({
  'if-none-match': z
    .string()
    .optional()
    .describe('An `ETag` from an earlier answer: the gateway answers 304 while the task is unchanged'),
});
