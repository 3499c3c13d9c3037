/**
 * Where webhooks live: subscriptions, their delivery logs, pending deliveries and which
 * process watches which task. Two implementations behind one interface, like the
 * TaskStore: this process (src/webhooks/in-process-store.ts; dies with it), or Redis
 * (src/webhooks/redis-store.ts; durable, shared by the fleet). Each method is one atomic
 * step, so two replicas never both record a change or both make one attempt.
 */
import type {
  AttemptNext,
  Change,
  ChangeOutcome,
  ClaimedMessage,
  EndReason,
  RegisterOutcome,
  Registration,
  Subscription,
  TargetBudget,
  WatchClaim,
  WebhookDelivery,
} from './model.js';

export interface QueueStats {
  /** Pending messages (due, or waiting for a retry). */
  depth: number;
  /** Epoch ms of the oldest pending message's event. */
  oldestCreatedAt: number | undefined;
}

export interface WebhookStore {
  /** False: everything dies with this process. */
  readonly durable: boolean;
  /**
   * Adds a webhook to its task (and the task to the watched ones unless terminal), within
   * the caps; at the client's cap its oldest ended webhooks are forgotten to make room.
   * Costs the same however many tasks and webhooks the store holds. Throws 503 when the
   * store is unreachable.
   */
  register(registration: Registration): Promise<RegisterOutcome>;
  /**
   * The client's webhooks of the upstream tasks (taskKeyOf: the places an id may route to)
   * with their delivery logs, oldest first. Throws 503 when the store is unreachable.
   */
  list(taskKeys: readonly string[], client: string): Promise<Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }>>;
  /** Ends one of the client's webhooks on one of the tasks; false when there is none. Throws 503 when the store is unreachable. */
  end(taskKeys: readonly string[], webhookId: string, client: string, reason: EndReason): Promise<boolean>;
  /** The client's active webhooks (each one a watched task): one count, whatever the store holds. Throws 503 when the store is unreachable. */
  activeCount(client: string): Promise<number>;

  /** Takes over up to `limit` watched tasks that nobody holds (a lease of `leaseMs`). */
  claimWatches(limit: number, leaseMs: number): Promise<WatchClaim[]>;
  /** The claim again, with the task's current webhooks and version; undefined when the claim was lost. */
  reloadWatch(claim: WatchClaim): Promise<WatchClaim | undefined | 'unavailable'>;
  /** Extends the leases; answers the task ids whose lease is no longer ours. */
  renewWatches(claims: readonly WatchClaim[], leaseMs: number): Promise<string[] | 'unavailable'>;
  /** Gives the leases up so another process may take the tasks after `delayMs`. */
  releaseWatches(claims: readonly WatchClaim[], delayMs: number): Promise<void>;
  /** Records a change of the task and its events, if the claim is still ours and its version current. */
  recordChange(claim: WatchClaim, change: Change): Promise<ChangeOutcome>;
  /** Stops watching the task; its webhooks get no new events (`reason`). */
  finishWatch(claim: WatchClaim, reason: EndReason): Promise<void>;

  /**
   * Claims up to `limit` due messages for one attempt each (a lease of `leaseMs`), within
   * the budget per receiver: due messages of a receiver with no share left stay due and
   * hold up no other receiver's.
   */
  claimDue(limit: number, leaseMs: number, targets: TargetBudget): Promise<ClaimedMessage[]>;
  /** Logs the attempt and settles the message, if its claim is still ours; false when the store is unreachable. */
  finishAttempt(message: ClaimedMessage, delivery: WebhookDelivery, next: AttemptNext): Promise<boolean>;
  /** Hands claimed messages back, due at once, their attempt not counted. */
  releaseMessages(messages: readonly ClaimedMessage[]): Promise<void>;

  queueStats(): Promise<QueueStats | undefined>;
}
