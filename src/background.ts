/**
 * Fire-and-forget, named: work nobody awaits still has its failure logged, never lost as
 * an unhandled rejection.
 */
import type { FastifyBaseLogger } from 'fastify';

export function background(work: Promise<unknown>, log: Pick<FastifyBaseLogger, 'error'>, message: string, context: Record<string, unknown> = {}): void {
  work.catch((error: unknown) => log.error({ ...context, err: error }, message));
}
