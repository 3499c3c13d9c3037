/**
 * Path, query and header parameters of the task routes: the one task id rule and the one
 * `wait` rule, used both by the routes' validation and by the gateway's routing.
 */
import { z } from 'zod';

/**
 * 1-512 of `[A-Za-z0-9._:/@-]`, and no empty, `.` or `..` segment between slashes: an id
 * (or the part of it a provider puts into its URL path) can never walk that path.
 */
export const TASK_ID_PATTERN = /^(?!(?:.*\/)?\.{0,2}(?:\/|$))[A-Za-z0-9._:/@-]{1,512}$/;
export const TASK_ID_RULE =
  'A task id is 1-512 characters of letters, digits, ".", "_", ":", "/", "@" and "-" (a "/" sent percent-encoded, as %2F), with no empty, "." or ".." part between slashes.';

export const TaskIdSchema = z
  .string()
  .regex(TASK_ID_PATTERN, { error: TASK_ID_RULE })
  .describe(
    'A task id: qualified as `<provider>:<native id>` (e.g. `vtrix:d758n65e878c73cmdg20`), or bare and routed by the rule table (see the operation description). One path segment: a `/` inside it is sent percent-encoded (`models%2Fveo-3.1-generate-preview%2Foperations%2Fmg3pt9cbmvr1`).',
  )
  .meta({ example: 'task_abc001' });

export const TaskParamsSchema = z.object({ id: TaskIdSchema });

export const MAX_WAIT_SECONDS = 60;
export const WAIT_RULE = `wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`;
const WAIT_TEXT = /^\d{1,9}$/;

/**
 * `wait` as sent: plain decimal digits only (no `0x10`, `1e1`, `+5`, empty or repeated
 * values, which a number coercion would accept), 0-60. One wording for every bad value.
 */
export const WaitSchema = z
  .string({ error: WAIT_RULE })
  .refine((text) => WAIT_TEXT.test(text) && Number(text) <= MAX_WAIT_SECONDS, { error: WAIT_RULE })
  .transform(Number)
  .meta({ type: 'integer', minimum: 0, maximum: MAX_WAIT_SECONDS });

export const WaitQuerySchema = z.object({
  wait: WaitSchema.optional().describe(
    `Seconds (0-${MAX_WAIT_SECONDS}) to hold the request while the task is not terminal; wins over \`Prefer: wait\``,
  ),
});

export const PreferHeaderSchema = z.object({
  prefer: z
    .string()
    .optional()
    .describe(`RFC 7240 preferences; \`wait=N\` (0-${MAX_WAIT_SECONDS}) holds the request like \`?wait=N\``),
});

export const TaskRequestHeadersSchema = PreferHeaderSchema.extend({
  'if-none-match': z
    .string()
    .optional()
    .describe('An `ETag` from an earlier answer: the gateway answers 304 while the task is unchanged'),
});

/** RFC 7240: `Prefer: respond-async, wait=10`; the `wait` preference's seconds, if there is one. */
export function preferredWait(header: string | undefined): { ok: true; seconds: number | undefined } | { ok: false } {
  if (header === undefined) return { ok: true, seconds: undefined };
  for (const preference of header.split(',')) {
    const [token] = preference.split(';');
    const match = /^\s*wait\s*=\s*"?([^"\s]*)"?\s*$/i.exec(token ?? '');
    if (match === null) continue;
    const parsed = WaitSchema.safeParse(match[1] ?? '');
    return parsed.success ? { ok: true, seconds: parsed.data } : { ok: false };
  }
  return { ok: true, seconds: undefined };
}
