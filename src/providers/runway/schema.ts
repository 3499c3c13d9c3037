/**
 * Runway's task body, minimal and private to the adapter (only the fields the mapper
 * reads, every one optional but `status`; anything else let through). The shapes are in
 * docs/providers/runway.md.
 */
import { z } from 'zod';

const TextOrNumber = z.union([z.string(), z.number()]);

export const RunwayTaskSchema = z.looseObject({
  id: z.string().nullish(),
  status: z.string(),
  createdAt: TextOrNumber.nullish(),
  // A fraction of one while RUNNING; a figure of another type is no progress, not a broken task.
  progress: TextOrNumber.nullish().catch(null),
  // A list of URLs once SUCCEEDED; the mapper reads its strings and nothing else.
  output: z.unknown().optional(),
  failure: z.string().nullish().catch(null),
  failureCode: z.string().nullish().catch(null),
  // Not in Runway's task; read when a relay adds it.
  model: z.string().nullish().catch(null),
});
export type RunwayTask = z.infer<typeof RunwayTaskSchema>;
