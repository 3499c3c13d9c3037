/**
 * `taskgate wait`: follows a task to its end with the gateway's long-poll, never a sleep
 * loop. Each `GET /tasks/{id}?wait=N` is held by the gateway; N is the task's
 * `poll_after_ms` (when the gateway will have fresh data) rounded up, so each answer
 * brings the provider's next state for the progress bar and the CLI costs one request per
 * provider refresh. Transient failures are retried with backoff until `--timeout`.
 */
import { isTerminal } from '../../schemas/task.js';
import { CliError, EXIT } from './errors.js';
import { GatewayFailure, type GatewayClient, type TaskAnswer } from './gateway.js';
import type { WaitView } from './progress.js';
import { backoffDelay, pause } from './retry.js';

/** The gateway's own ceiling for `?wait` (0-60 s). */
const MAX_HOLD_SECONDS = 60;
/** Asked of a task that gives no cadence; the providers' is 5 s today. */
const DEFAULT_CADENCE_MS = 5000;
/** Ask a little after the gateway's refresh is due, so the answer carries it. */
const REFRESH_MARGIN_MS = 500;

/** How long the next long-poll may be held: until the next refresh, within the time left. */
export function nextHoldSeconds(pollAfterMs: number | null, remainingMs: number): number {
  const cadence = Math.ceil(((pollAfterMs ?? DEFAULT_CADENCE_MS) + REFRESH_MARGIN_MS) / 1000);
  const remaining = Math.max(1, Math.ceil(remainingMs / 1000));
  return Math.min(MAX_HOLD_SECONDS, cadence, remaining);
}

function describeState(answer: TaskAnswer): string {
  const { task } = answer;
  return `${task.id} is still ${task.status}${task.progress === null ? '' : ` (${task.progress}%)`}`;
}

/** Resolves with the terminal answer; throws a CliError for a permanent problem, the timeout or an interrupt. */
export async function waitForTask(
  client: GatewayClient,
  options: { id: string; timeoutMs: number },
  view: WaitView,
  interrupt: AbortSignal,
): Promise<TaskAnswer> {
  const endsAt = Date.now() + options.timeoutMs;
  const deadline = new AbortController();
  // A held request in flight is cut at the deadline; `--timeout 0` lets the one check finish.
  const timer = options.timeoutMs > 0 ? setTimeout(() => deadline.abort(), options.timeoutMs) : undefined;
  const signal = AbortSignal.any([interrupt, deadline.signal]);
  let last: TaskAnswer | undefined;
  let lastFailure: GatewayFailure | undefined;
  let reached = false;
  let failures = 0;
  let holdSeconds = 0;
  try {
    while (!signal.aborted) {
      try {
        const answer = await client.getTask(options.id, { waitSeconds: holdSeconds, signal });
        reached = true;
        failures = 0;
        last = answer;
        lastFailure = undefined;
        view.show(answer.task);
        if (isTerminal(answer.task.status)) return answer;
        if (Date.now() >= endsAt) break;
        holdSeconds = nextHoldSeconds(answer.task.poll_after_ms, endsAt - Date.now());
      } catch (error) {
        if (signal.aborted) break;
        // A refused connection before any answer means no gateway there (exit 4), not a restart.
        if (!(error instanceof GatewayFailure) || !error.retry.transient || (error.retry.refused === true && !reached)) throw error;
        lastFailure = error;
        const delayMs = backoffDelay(failures++, error.retry.afterMs);
        if (Date.now() + delayMs >= endsAt) break;
        view.retrying(error.retry.reason ?? error.code, delayMs);
        await pause(delayMs, signal);
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (interrupt.aborted) throw new CliError(EXIT.interrupted, 'interrupted', `stopped waiting for ${options.id}`);
  const lastSeen =
    lastFailure !== undefined ? `the last answer was ${lastFailure.code}: ${lastFailure.detail}` : last !== undefined ? describeState(last) : 'no answer came';
  throw new CliError(EXIT.timeout, 'timeout', `--timeout ${options.timeoutMs / 1000} s passed; ${lastSeen}`);
}
