/**
 * What the webhook store keeps and the dispatcher works on, whichever store it is (this
 * process, or Redis in fleet mode), and the rules both apply the same way: which events a
 * change of a task is, the retry schedule, and how long anything is kept.
 */
import { randomBytes } from 'node:crypto';
import { isTerminal, type TaskStatus } from '../../schemas/task.js';
import type { WebhookDelivery, WebhookEvent } from '../../schemas/webhooks.js';

export type { WebhookDelivery, WebhookEvent };

/** A task is watched for its webhooks for at most this long after one was registered. */
export const WATCH_WINDOW_MS = 24 * 60 * 60 * 1000;
/** An event is retried for at most this long after it happened. */
export const RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Every record expires this long after its last write: a whole watch, a whole retry window, an hour to read the log. */
export const RETENTION_MS = WATCH_WINDOW_MS + RETRY_WINDOW_MS + 60 * 60 * 1000;
/** Delivery attempts kept per webhook (the oldest go first). */
export const MAX_LOG_ENTRIES = 50;
/** Ended webhooks kept per task for their logs (the oldest go first). */
export const MAX_ENDED_PER_TASK = 10;
/** The retry delay is the schedule's, times a factor drawn from [1 - JITTER, 1 + JITTER]. */
const JITTER = 0.2;

/** Why a webhook ended: nothing more will be delivered. */
export type EndReason = 'finished' | 'gone' | 'deleted' | 'expired' | 'task_not_found';

/**
 * The upstream task a webhook is kept and capped under: its provider and native id, so
 * every spelling of one task id (`task_x`, `vtrix:task_x`) is the same task.
 */
export function taskKeyOf(provider: string, nativeId: string): string {
  return `${provider}:${nativeId}`;
}

export interface Subscription {
  id: string;
  /** The task id as the client registered it (what the routes and the rendering use). */
  taskId: string;
  url: string;
  events: WebhookEvent[];
  /** Epoch ms. */
  createdAt: number;
  /** The public origin of the registering request: the delivered Task's URLs point there. */
  origin: string;
  /** Who registered it (src/client-identity.ts): only they list it or end it. */
  client: string;
  state: 'active' | 'ended';
  endedReason?: EndReason;
  /** Its task reached a terminal state (or its watch ended): no new events, only the pending ones. */
  final: boolean;
  /** Its events not yet done (delivered, 410, given up). */
  pending: number;
}

/** The state a task's webhooks were last told about (or registered at): changes are measured from it. */
export interface Baseline {
  status: TaskStatus;
  progress: number | null;
}

/** An event to deliver, its body rendered and signed-to-be. */
export interface NewMessage {
  /** The `webhook-id` header: `msg_…`, the same on every attempt. */
  id: string;
  webhookId: string;
  /** The upstream task (taskKeyOf) whose webhook it is for. */
  taskKey: string;
  event: WebhookEvent;
  url: string;
  /** The receiver's origin (targetOf): deliveries to one take a bounded share of the slots. */
  target: string;
  body: string;
  /** Epoch ms of the event. */
  createdAt: number;
}

/** A message this process holds the claim (lease) of, for one attempt. */
export interface ClaimedMessage extends NewMessage {
  /** The number of this attempt, 1 for the first. */
  attempt: number;
  token: string;
}

/** A task this process watches for its webhooks (holds the watch lease of). */
export interface WatchClaim {
  /** The upstream task (taskKeyOf). */
  taskKey: string;
  token: string;
  provider: string;
  nativeId: string;
  baseline: Baseline | undefined;
  /** Epoch ms after which the task is no longer watched. */
  watchUntil: number;
  /** Changes whenever a webhook of the task is added or ended: a change recorded against an older one is refused. */
  version: string;
  /** The webhooks that still get new events (active, not final). */
  subscriptions: Subscription[];
}

/** What becomes of a message after an attempt. */
export type AttemptNext = { kind: 'done' } | { kind: 'gone' } | { kind: 'retry'; at: number } | { kind: 'abandoned' };

export interface Change {
  baseline: Baseline;
  terminal: boolean;
  messages: NewMessage[];
  /** Webhooks that get no new events after this change. */
  finals: string[];
  /** Claim up to this many of the new messages for this process at once (a lease of `leaseMs`), to send them now. */
  claim: { max: number; leaseMs: number };
}

export type ChangeOutcome = { outcome: 'recorded'; claimed: ClaimedMessage[] } | { outcome: 'stale' } | { outcome: 'lost' } | { outcome: 'unavailable' };

export type RegisterOutcome = 'registered' | 'task_limit' | 'global_limit' | 'client_limit';

export interface Registration {
  subscription: Subscription;
  provider: string;
  nativeId: string;
  /** The task's state when it was registered. */
  baseline: Baseline;
  /** The task is already terminal: `messages` are its events, and nothing is watched. */
  terminal: boolean;
  messages: NewMessage[];
  watchUntil: number;
  maxPerTask: number;
  maxSubscriptions: number;
  /** Webhooks one client holds, active and ended together (its oldest ended ones make room). */
  maxPerClient: number;
}

/** Where a delivery goes, as far as sharing the delivery slots is concerned: the URL's origin. */
export function targetOf(url: string): string {
  return new URL(url).origin;
}

/**
 * What a claim of due messages may take per receiver: at most `perTarget` in flight to
 * one, `busy` (by target) being those already in flight in this process.
 */
export interface TargetBudget {
  perTarget: number;
  busy: Readonly<Record<string, number>>;
}

export function newWebhookId(): string {
  return `wh_${randomBytes(16).toString('base64url')}`;
}

export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/** RFC 3339 UTC in whole seconds, like every time in a Task. */
export function isoSeconds(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function sameBaseline(left: Baseline | undefined, right: Baseline): boolean {
  return left !== undefined && left.status === right.status && left.progress === right.progress;
}

/**
 * The events a change from `before` to `after` is for one webhook: `task.updated` when the
 * status or progress changed (the terminal change included), and the terminal event.
 */
export function eventsOf(subscription: Subscription, before: Baseline | undefined, after: Baseline): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  if (!sameBaseline(before, after) && subscription.events.includes('task.updated')) events.push('task.updated');
  if (isTerminal(after.status)) {
    const terminal = `task.${after.status}` as WebhookEvent;
    if (subscription.events.includes(terminal)) events.push(terminal);
  }
  return events;
}

/** After a failed attempt `attempt` (1-based): when to try again, or undefined when the event is given up. */
export function retryAt(delaysMs: readonly number[], attempt: number, createdAt: number, now: number, random: () => number = Math.random): number | undefined {
  const base = delaysMs[Math.min(attempt - 1, delaysMs.length - 1)]!;
  const at = now + Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return at > createdAt + RETRY_WINDOW_MS ? undefined : at;
}

/** What a subscription becomes once one of its pending events is done. */
export function afterMessageDone(subscription: Subscription, next: AttemptNext): Subscription {
  const updated = { ...subscription, pending: Math.max(0, subscription.pending - 1) };
  if (updated.state !== 'active') return updated;
  if (next.kind === 'gone') return { ...updated, state: 'ended', endedReason: 'gone' };
  if (updated.final && updated.pending === 0) return { ...updated, state: 'ended', endedReason: updated.endedReason ?? 'finished' };
  return updated;
}

/** A subscription that gets no new events any more: ended at once unless events are still pending. */
/** Still gets new events: active and not final (what a WatchClaim carries). */
export function getsNewEvents(subscription: Subscription): boolean {
  return subscription.state === 'active' && !subscription.final;
}

export function finalized(subscription: Subscription, reason: EndReason): Subscription {
  if (subscription.state !== 'active') return subscription;
  if (subscription.pending === 0) return { ...subscription, final: true, state: 'ended', endedReason: reason };
  return { ...subscription, final: true, endedReason: reason };
}
