/**
 * How a Redis call is given up on: a deadline that only Redis's own silence can miss
 * (not this process's event-loop lag), and which failures say the connection is fine.
 * Shared by the command side and the channels of src/fleet/redis.ts.
 */

/** Redis answered (WRONGTYPE, NOSCRIPT, OOM…): the connection is fine, only this call failed. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * `work`'s outcome, or TIMED_OUT when no reply came within `ms` and one more I/O phase.
 * A timer that fires late because this process was busy then lets a reply that is already
 * in the socket be read first (setImmediate runs after the I/O phase), so only Redis's own
 * silence counts as a timeout, not this process's event-loop lag.
 */
export function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          resolve(TIMED_OUT);
        }),
      ms,
    );
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
