/**
 * What task lookups and poll loops keep between requests, behind one interface with two
 * implementations: everything in this process (src/fleet/in-process-store.ts, the
 * default), or shared by every replica through Redis (src/fleet/redis-store.ts, fleet
 * mode). The lookups and the watcher are written once against it.
 */
import type { FastifyRateLimitOptions } from '@fastify/rate-limit';
import type { TaskState } from '../providers/types.js';
import type { BudgetCounter } from '../upstream/budget.js';
import type { SharedError } from './single-flight.js';

/** When the result archive stored every output of a task, and until when it keeps them (RFC 3339; null: for good). */
export interface ArchivedCopy {
  at: string;
  expiresAt: string | null;
}

/** A provider's answer and when it arrived: what reuse windows and countdowns are measured from. */
export interface Observation {
  state: TaskState;
  /** Epoch milliseconds when the provider's answer arrived. */
  fetchedAt: number;
  /** Set once the result archive holds every output (src/archive/). */
  archived?: ArchivedCopy;
}

/** A cache whose first layer is in this process (its only layer when in-process). */
export interface AnswerCache<V> {
  /** What this process already holds; synchronous, never a round trip. */
  peekLocal(key: string): V | undefined;
  /** This process's layer, then the fleet's; undefined on a miss or when Redis is unavailable. */
  get(key: string): Promise<V | undefined>;
  /** Into every layer; the shared write is best effort and never rejects. */
  set(key: string, value: V, ttlMs: number): Promise<void>;
  /** Into this process's layer only: a value the fleet already holds. */
  hold(key: string, value: V, ttlMs: number): void;
  /** Out of every layer (a cached answer known to be stale); never rejects. */
  delete(key: string): Promise<void>;
  /** Drops this process's entries whose time is up (a read would drop them anyway): their memory goes at once. */
  purgeStale(): void;
  readonly localSize: number;
}

/** Which task cache the fleet's layer answered from (the local layer of that cache now holds it). */
export type SharedHit = 'terminal' | 'fresh' | 'notFound';

/** What a poll loop tells the waiters of its task, on every replica. */
export type PollMessage = { observation: Observation } | { error: SharedError; permanent: boolean };

export interface PollJoinOptions {
  /** The task's cadence: how often someone must poll it. */
  intervalMs: number;
  /**
   * Called when this replica should poll now: periodically while it holds the task's poll
   * lease (or while Redis is down), and at once when it takes the lease over.
   */
  onTick: () => void | Promise<void>;
  onMessage: (message: PollMessage) => void;
}

export interface PollMembership {
  /** True while this replica is the one that polls (the lease holder, or Redis is unavailable). */
  readonly polls: boolean;
  /** To every replica's members of this task, this one's first and synchronously. */
  publish(message: PollMessage): void;
  leave(): void;
}

export interface StoreStats {
  /** Redis health; undefined when not in fleet mode. */
  redisUp: boolean | undefined;
  /** Poll-loop leases this replica holds. */
  pollLeases: number;
  /** Upstream calls this replica runs on behalf of the fleet right now. */
  flightLeases: number;
  /** Redis channels this replica subscribes (one per watched task, plus flights being waited on). */
  subscriptions: number;
}

export interface TaskStore {
  /** True in fleet mode: a local miss is worth asking the shared layer. */
  readonly shared: boolean;
  /** Terminal tasks, by `provider:nativeId`. */
  readonly terminal: AnswerCache<Observation>;
  /** Non-terminal answers inside their reuse window, by `provider:nativeId`. */
  readonly fresh: AnswerCache<Observation>;
  /** Providers' "no such task", by `provider:nativeId`. */
  readonly notFound: AnswerCache<SharedError>;
  /** Ambiguous id (as asked) -> the provider that has it. */
  readonly routes: AnswerCache<string>;
  /** terminal, fresh and notFound of the fleet's layer in one round trip; in-process: always undefined. */
  findShared(key: string): Promise<SharedHit | undefined>;
  /** One upstream call per key at a time (across the fleet in fleet mode); the others get its outcome. */
  singleFlight(key: string, budgetMs: number, run: () => Promise<Observation>): Promise<Observation>;
  /** Joins the task's poll loop; one membership per key per process. */
  join(key: string, options: PollJoinOptions): PollMembership;
  /**
   * A random secret every replica shares (created once by whichever asks first, e.g. the
   * link secret when TASKGATE_LINK_SECRET is unset); undefined in-process, or while Redis
   * is unavailable.
   */
  sharedSecret(name: string): Promise<Buffer | undefined>;
  /** Where a provider's upstream budget is counted: this process, or the fleet (one count per second). */
  budgetCounter(provider: string): BudgetCounter;
  /** Options for @fastify/rate-limit so the limit is counted where the store keeps its state. */
  rateLimitOptions(): Partial<FastifyRateLimitOptions>;
  stats(): StoreStats;
  close(): Promise<void>;
}
