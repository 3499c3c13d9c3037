import { z } from 'zod';
import { PROBLEM_CATALOG, type ProblemCode } from '../src/errors.js';

const CODES = Object.keys(PROBLEM_CATALOG) as [ProblemCode, ...ProblemCode[]];

export const ProblemSchema = z
  .object({
    type: z.string().describe('URI reference identifying the problem type, e.g. `/problems/task_not_found`'),
    title: z.string().describe('Short, human-readable summary of the problem type'),
    status: z.number().int().describe('The HTTP status code'),
    detail: z.string().describe('Human-readable explanation of this occurrence; never carries secrets or upstream bodies'),
    code: z.enum(CODES).describe('Stable machine-readable error code'),
    request_id: z.string().describe('Echo of `X-Request-Id`, for support'),
    provider: z.string().optional().describe('The provider involved, when there is one'),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem details object (`application/problem+json`).' });
export type ProblemBody = z.infer<typeof ProblemSchema>;
