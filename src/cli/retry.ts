/**
 * Backoff between attempts after a transient failure (shared by `wait` and `download`):
 * exponential from half a second, capped, with jitter so many scripts retrying after one
 * gateway restart do not come back in step; never sooner than the gateway's Retry-After.
 */
import { setTimeout as delay } from 'node:timers/promises';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** Delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

/** Waits `milliseconds` unless the signal fires first (then resolves early; callers check the signal). */
export async function pause(milliseconds: number, signal: AbortSignal): Promise<void> {
  await delay(milliseconds, undefined, { signal }).catch(() => undefined);
}
