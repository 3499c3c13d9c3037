/**
 * Fire-and-forget, named: work nobody awaits still has its failure logged, never lost as
 * an unhandled rejection. Every promise the gateway does not await goes through here (the
 * linter's no-floating-promises rule holds the rest of the code to it).
 */
import type { FastifyBaseLogger } from 'fastify';

/** Where a failure of background work is reported: the app's logger, or a part's own. */
export type BackgroundLog = Pick<FastifyBaseLogger, 'error'>;

/**
 * For parts made without the app's logger (a library use, a test): one JSON line on
 * stderr, shaped like the gateway's own log lines.
 */
export const STDERR_LOG: BackgroundLog = {
  error(context: unknown, message?: string) {
    const fields = typeof context === 'object' && context !== null ? describe(context as Record<string, unknown>) : { detail: String(context) };
    process.stderr.write(`${JSON.stringify({ level: 50, time: Date.now(), ...fields, msg: message })}\n`);
  },
};

function describe(context: Record<string, unknown>): Record<string, unknown> {
  const { err, ...rest } = context;
  return err instanceof Error ? { ...rest, err: { type: err.name, message: err.message } } : context;
}

export function background(work: Promise<unknown>, log: BackgroundLog, message: string, context: Record<string, unknown> = {}): void {
  work.catch((error: unknown) => log.error({ ...context, err: error }, message));
}
