import { ProblemSchema } from '../schemas/problem.js';

/** Response schemas for the given error statuses, all the Problem shape. */
export function problemResponses<const S extends number>(statuses: readonly S[]): Record<S, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemSchema])) as Record<S, typeof ProblemSchema>;
}
