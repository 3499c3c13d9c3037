/**
 * The vocabulary of the simulators: what a task's life looks like (phases, variants) and
 * what can go wrong on the wire (faults). The zod schemas are the single source of both
 * the TypeScript types and the validation of the `/__sim/` control API bodies.
 */
import { z } from 'zod';

export const PHASE_STATUSES = ['queued', 'in_progress', 'succeeded', 'failed', 'canceled'] as const;

export const phaseSchema = z.strictObject({
  /** Task time since the first poll, before `timeScale` is applied. */
  atMs: z.number().finite().nonnegative(),
  status: z.enum(PHASE_STATUSES),
  /** Percentage 0-100; each variant renders it in its own unit (fraction, integer, "30%"). */
  progress: z.number().min(0).max(100).optional(),
  /** Overrides the provider's status word for this phase, e.g. gravitex's `unknown`. */
  providerStatus: z.string().min(1).optional(),
});

const rawAnswerSchema = z.strictObject({
  status: z.number().int().min(100).max(599),
  body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]),
  headers: z.record(z.string(), z.string()).optional(),
});

export const taskScriptSchema = z.strictObject({
  /** One of the provider's response shapes (its profile's `variants`, from docs/providers/). */
  variant: z.string().min(1).optional(),
  timeline: z.array(phaseSchema).min(1).optional(),
  missing: z.boolean().optional(),
  /** Answer exactly this (after auth) instead of rendering a timeline. */
  raw: rawAnswerSchema.optional(),
  model: z.string().min(1).optional(),
  /** The task's result file (e.g. a signed link on a CDN origin) instead of the simulator's own. */
  resultUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** The story's clock starts now, not at the task's next poll (a tool that must know when it ends). */
  startClock: z.boolean().optional(),
});

const times = z.number().int().positive().optional();

export const faultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('latency'), ms: z.number().int().nonnegative().max(600_000), times }),
  z.strictObject({ kind: z.literal('status'), status: z.number().int().min(400).max(599), times }),
  z.strictObject({ kind: z.literal('rate_limit'), retryAfter: z.number().nonnegative().optional(), times }),
  z.strictObject({ kind: z.literal('reset'), times }),
  z.strictObject({ kind: z.literal('malformed'), times }),
  z.strictObject({ kind: z.literal('html'), status: z.union([z.literal(200), z.literal(502)]).optional(), times }),
  // 16 bytes is the smallest body that still holds the padded JSON object.
  z.strictObject({ kind: z.literal('huge'), bytes: z.number().int().min(16).max(1 << 30), times }),
  z.strictObject({ kind: z.literal('slow_drip'), ms: z.number().int().nonnegative().max(600_000), times }),
  z.strictObject({ kind: z.literal('hang'), times }),
]);

export type Variant = string;
export type PhaseStatus = (typeof PHASE_STATUSES)[number];
export type Phase = z.infer<typeof phaseSchema>;
export type TaskScript = z.infer<typeof taskScriptSchema>;
export type RawAnswer = z.infer<typeof rawAnswerSchema>;
export type Fault = z.infer<typeof faultSchema>;
export type FaultKind = Fault['kind'];

export function isTerminal(status: PhaseStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}
