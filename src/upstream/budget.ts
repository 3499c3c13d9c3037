/**
 * A provider's upstream budget, `providers.<name>.maxRequestsPerSecond`
 * (docs/operations.md, "Budgets and quotas"), shared by client lookups and the gateway's own poll
 * loops, which yield to them:
 *
 * - a client's lookup is counted and never held back: it goes at once, so background
 *   polling can never starve it;
 * - a background poll waits its turn in a queue (first due, first served) until this
 *   second's count is under four fifths of the budget (the rest is left to client
 *   lookups), and while fewer than half the provider's connections carry background polls,
 *   so they never fill its pool either.
 *
 * When the budget is short, a watched task is polled less often: `backgroundIntervalMs`
 * says how often, and the poll's answer carries it as its cadence, so its `poll_after_ms`
 * (and its reuse window) says the real one. The count is per second, in this process or,
 * in fleet mode, in Redis for the whole fleet (src/fleet/upstream-budget.ts).
 */
import { background, STDERR_LOG, type BackgroundLog } from '../background.js';

/** Where a budget's requests are counted: this process, or the fleet. */
export interface BudgetCounter {
  /** Counts `count` requests in this second (client lookups: never refused). */
  add(count: number): void;
  /** Counts one request if this second holds fewer than `ceiling`; false: none is left for it. */
  take(ceiling: number): Promise<boolean>;
}

/** The count of the current second, in this process. */
export class LocalBudgetCounter implements BudgetCounter {
  private second = -1;
  private count = 0;

  constructor(private readonly now: () => number = Date.now) {}

  add(count: number): void {
    this.roll();
    this.count += count;
  }

  take(ceiling: number): Promise<boolean> {
    this.roll();
    if (this.count >= ceiling) return Promise.resolve(false);
    this.count++;
    return Promise.resolve(true);
  }

  private roll(): void {
    const second = Math.floor(this.now() / 1000);
    if (second === this.second) return;
    this.second = second;
    this.count = 0;
  }
}

export interface UpstreamBudgetOptions {
  /** `providers.<name>.maxRequestsPerSecond`. */
  perSecond: number;
  counter: BudgetCounter;
  /** The provider's connections: background polls use at most half of them at once. */
  connections: number;
  now?: () => number;
  /** Where a failure of the granting loop is reported (a counter that threw). */
  log?: BackgroundLog;
}

/** Gives a background poll's slot back once its call is done. */
export type BudgetRelease = () => void;

interface Turn {
  enqueuedAt: number;
  resolve: (release: BudgetRelease) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The share of a budget background polls may use: client lookups keep the rest. */
const BACKGROUND_SHARE = 0.8;
/** Weight of the latest queue wait in the running average the cadence estimate adds. */
const WAIT_SMOOTHING = 0.2;

class BudgetAborted extends Error {
  readonly code = 'TASKGATE_BUDGET_ABORTED';
}

export class UpstreamBudget {
  /** Background requests per second at most (four fifths of the budget, at least 1). */
  readonly backgroundPerSecond: number;
  private readonly maxInFlight: number;
  private readonly queue = new Set<Turn>();
  private inFlight = 0;
  private pumping = false;
  private averageWaitMs = 0;
  private readonly now: () => number;

  constructor(private readonly options: UpstreamBudgetOptions) {
    this.now = options.now ?? Date.now;
    this.backgroundPerSecond = Math.max(1, Math.floor(options.perSecond * BACKGROUND_SHARE));
    this.maxInFlight = Math.max(1, Math.floor(options.connections / 2));
  }

  /** Background polls waiting for their turn now. */
  get waiting(): number {
    return this.queue.size;
  }

  /** A client lookup's request: counted, never held back. */
  spend(count = 1): void {
    this.options.counter.add(count);
  }

  /**
   * Resolves when a background poll may make its request (its first request is counted by
   * then); the returned function gives its slot back. Rejects when `signal` aborts first.
   */
  background(signal?: AbortSignal): Promise<BudgetRelease> {
    if (signal?.aborted === true) return Promise.reject(new BudgetAborted('the poll stopped'));
    return new Promise<BudgetRelease>((resolve, reject) => {
      const turn: Turn = { enqueuedAt: this.now(), resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        turn.onAbort = () => {
          if (this.queue.delete(turn)) reject(new BudgetAborted('the poll stopped'));
        };
        signal.addEventListener('abort', turn.onAbort, { once: true });
      }
      this.queue.add(turn);
      this.pump();
    });
  }

  /**
   * How often each of `pollers` watched tasks can be polled in the background, in ms:
   * the budget spread over them, plus the recent wait in the queue (which says the fleet's
   * other replicas, or client lookups, take part of it).
   */
  backgroundIntervalMs(pollers: number): number {
    return Math.ceil((pollers * 1000) / this.backgroundPerSecond + this.averageWaitMs);
  }

  /** One pump at a time hands out turns, in the background, while the budget and the slots allow. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    background(this.grantWhileAllowed(), this.options.log ?? STDERR_LOG, 'upstream budget: granting background polls failed');
  }

  private async grantWhileAllowed(): Promise<void> {
    try {
      while (this.queue.size > 0 && this.inFlight < this.maxInFlight) {
        if (!(await this.options.counter.take(this.backgroundPerSecond))) {
          await this.untilNextSecond();
          continue;
        }
        const turn = this.next();
        // Everyone who waited gave up meanwhile: the request counted is not made.
        if (turn === undefined) break;
        this.grant(turn);
      }
    } finally {
      this.pumping = false;
    }
  }

  private next(): Turn | undefined {
    const first = this.queue.values().next();
    if (first.done === true) return undefined;
    this.queue.delete(first.value);
    return first.value;
  }

  private grant(turn: Turn): void {
    if (turn.onAbort !== undefined) turn.signal?.removeEventListener('abort', turn.onAbort);
    const waited = this.now() - turn.enqueuedAt;
    this.averageWaitMs += (waited - this.averageWaitMs) * WAIT_SMOOTHING;
    this.inFlight++;
    let released = false;
    turn.resolve(() => {
      if (released) return;
      released = true;
      this.inFlight--;
      if (this.queue.size > 0) this.pump();
    });
  }

  /** Until the next second's count begins (a little after, spread so replicas do not all ask at once). */
  private untilNextSecond(): Promise<void> {
    const delay = 1000 - (this.now() % 1000) + Math.floor(Math.random() * 20);
    return new Promise((resolve) => setTimeout(resolve, delay).unref());
  }
}
