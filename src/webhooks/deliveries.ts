/**
 * The webhook attempts one process makes (src/webhooks/dispatcher.ts claims them): each
 * sent with its own abort, at most `concurrency` at once and `perTargetConcurrency` to one
 * receiver origin, its outcome counted and stored (a retry planned, or given up), and an
 * outcome the store could not take kept and stored again while its claim lasts.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.js';
import { retryAt, type AttemptNext, type ClaimedMessage, type TargetBudget, type WebhookDelivery } from './model.js';
import type { AttemptResult, WebhookSender } from './sender.js';
import type { WebhookStore } from './store.js';

export interface WebhookDeliveriesOptions {
  store: WebhookStore;
  sender: WebhookSender;
  metrics: Metrics;
  retryDelaysMs: readonly number[];
  concurrency: number;
  /** Deliveries to one receiver origin in flight at most, of the `concurrency` slots. */
  perTargetConcurrency: number;
  /** How long a claimed attempt is ours: past it, another process makes it. */
  messageLeaseMs: number;
  log: FastifyBaseLogger;
  /** A slot came free while work may be waiting: the dispatcher sweeps for it. */
  onSlotFreed: () => void;
}

/** On shutdown, attempts in flight get this long to finish before they are handed back. */
const CLOSE_WAIT_MS = 2000;

interface InFlight {
  message: ClaimedMessage;
  controller: AbortController;
  done: Promise<void>;
}

interface UnfinishedAttempt {
  message: ClaimedMessage;
  delivery: WebhookDelivery;
  next: AttemptNext;
  /** Past this its claim has lapsed and another attempt will be made anyway. */
  giveUpAt: number;
}

export class WebhookDeliveries {
  private readonly inFlight = new Set<InFlight>();
  /** Deliveries in flight by receiver origin: a receiver that hangs holds only its own share of the slots. */
  private readonly inFlightByTarget = new Map<string, number>();
  private unfinished: UnfinishedAttempt[] = [];
  private closing = false;
  /** More attempts are due than the last claim took: a slot coming free calls for a sweep. */
  backlog = false;

  constructor(private readonly options: WebhookDeliveriesOptions) {}

  /** Slots free for attempts now. */
  get free(): number {
    return Math.max(0, this.options.concurrency - this.inFlight.size);
  }

  /** Each receiver origin's share, and what it holds now. */
  budget(): TargetBudget {
    return { perTarget: this.options.perTargetConcurrency, busy: Object.fromEntries(this.inFlightByTarget) };
  }

  deliver(message: ClaimedMessage): void {
    const controller = new AbortController();
    const entry: InFlight = { message, controller, done: Promise.resolve() };
    this.inFlight.add(entry);
    this.inFlightByTarget.set(message.target, (this.inFlightByTarget.get(message.target) ?? 0) + 1);
    entry.done = this.attempt(message, controller.signal)
      .catch((error: unknown) => this.options.log.error({ err: error, webhookId: message.webhookId }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(entry);
        const held = this.inFlightByTarget.get(message.target) ?? 1;
        if (held > 1) this.inFlightByTarget.set(message.target, held - 1);
        else this.inFlightByTarget.delete(message.target);
        // A receiver that had its whole share may have more due, which the last claim left.
        if (this.backlog || held >= this.options.perTargetConcurrency) this.options.onSlotFreed();
      });
  }

  /** Attempts whose outcome could not be stored (Redis was down): stored now, while their claim lasts. */
  async settleUnfinished(): Promise<void> {
    if (this.unfinished.length === 0) return;
    const now = Date.now();
    const waiting = this.unfinished.filter((entry) => entry.giveUpAt > now);
    this.unfinished = [];
    for (const entry of waiting) {
      if (!(await this.options.store.finishAttempt(entry.message, entry.delivery, entry.next))) this.unfinished.push(entry);
    }
  }

  /** Lets the attempts in flight finish for a while, cuts the rest (handed back uncounted), stores what is left. */
  async close(): Promise<void> {
    this.closing = true;
    const running = [...this.inFlight];
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([Promise.all(running.map((entry) => entry.done)), waited]);
    clearTimeout(timer);
    for (const entry of this.inFlight) entry.controller.abort();
    await Promise.all([...this.inFlight].map((entry) => entry.done));
    await this.settleUnfinished();
  }

  private async attempt(message: ClaimedMessage, signal: AbortSignal): Promise<void> {
    const result = await this.options.sender.send(message, signal);
    if (signal.aborted && this.closing) {
      // Cut by the shutdown: handed back uncounted, for another process (or the next start) to make.
      await this.options.store.releaseMessages([message]);
      return;
    }
    const now = Date.now();
    const next = this.nextAfter(message, result, now);
    this.options.metrics.webhookDeliveries.inc({ outcome: result.outcome });
    if (next.kind === 'abandoned') this.options.metrics.webhookDeliveries.inc({ outcome: 'abandoned' });
    const delivery: WebhookDelivery = {
      event: message.event,
      webhook_id: message.id,
      attempt: message.attempt,
      at: new Date(now).toISOString(),
      status_code: result.statusCode,
      error: next.kind === 'abandoned' ? [result.error ?? `HTTP ${result.statusCode}`, 'given up: 24 h of retries passed'].join('; ') : result.error,
      next_attempt_at: next.kind === 'retry' ? new Date(next.at).toISOString() : null,
    };
    if (!(await this.options.store.finishAttempt(message, delivery, next))) {
      this.unfinished.push({ message, delivery, next, giveUpAt: now + this.options.messageLeaseMs });
    }
  }

  private nextAfter(message: ClaimedMessage, result: AttemptResult, now: number): AttemptNext {
    if (result.outcome === 'delivered') return { kind: 'done' };
    if (result.outcome === 'gone') return { kind: 'gone' };
    const at = retryAt(this.options.retryDelaysMs, message.attempt, message.createdAt, now);
    return at === undefined ? { kind: 'abandoned' } : { kind: 'retry', at };
  }
}
