/**
 * The pub/sub side of the fleet's Redis connection (src/fleet/redis.ts): one SUBSCRIBE per
 * channel however many listeners it has here, each message handed to every listener, and
 * the channels Redis holds kept equal to those with listeners across outages (what went
 * missing or stale while Redis was down is put right when it is back).
 */
import { background, type BackgroundLog } from '../background.js';
import type { Redis } from 'ioredis';
import { isReplyError, TIMED_OUT, withinDeadline } from './redis-deadline.js';

export type MessageListener = (message: string) => void;

export interface Subscription {
  /**
   * True once Redis confirmed the SUBSCRIBE; false when Redis is down or refused it (the
   * channel is then subscribed again when Redis comes back).
   */
  readonly ready: Promise<boolean>;
  /** Removes this listener; the last one to leave unsubscribes the channel. */
  unsubscribe(): void;
}

/** What the channels ask of the connection's health state machine. */
export interface ChannelHealth {
  up(): boolean;
  commandTimeoutMs: number;
  /** A (un)subscribe got no reply in time: Redis may be silent. */
  timedOut(): void;
  /** A (un)subscribe failed on the connection: Redis is down. */
  failed(): void;
}

interface ChannelState {
  listeners: Set<MessageListener>;
  ready: Promise<boolean>;
}

export class RedisChannels {
  private readonly channels = new Map<string, ChannelState>();
  /** Channels the subscriber connection holds at Redis, as far as its replies told us. */
  private readonly subscribedAtRedis = new Set<string>();

  constructor(
    private readonly subscriber: Redis,
    private readonly health: ChannelHealth,
    private readonly log: BackgroundLog,
  ) {}

  /** Distinct channels with listeners here. */
  get count(): number {
    return this.channels.size;
  }

  subscribe(channel: string, listener: MessageListener): Subscription {
    let state = this.channels.get(channel);
    if (state === undefined) {
      state = { listeners: new Set(), ready: this.health.up() ? this.sendSubscribe([channel]) : Promise.resolve(false) };
      this.channels.set(channel, state);
    }
    const active = state;
    active.listeners.add(listener);
    let removed = false;
    return {
      ready: active.ready,
      unsubscribe: () => {
        if (removed) return;
        removed = true;
        active.listeners.delete(listener);
        if (active.listeners.size > 0 || this.channels.get(channel) !== active) return;
        this.channels.delete(channel);
        // While down the channel stays at Redis; the probe drops it when Redis is back.
        if (this.health.up()) this.unsubscribeInBackground([channel]);
      },
    };
  }

  dispatch(channel: string, message: string): void {
    const state = this.channels.get(channel);
    if (state === undefined) return;
    for (const listener of [...state.listeners]) {
      try {
        listener(message);
      } catch {
        // A throwing listener must not starve the others of the message.
      }
    }
  }

  /** The subscriber connection closed: Redis holds none of its channels any more. */
  disconnected(): void {
    this.subscribedAtRedis.clear();
  }

  /** Every listener gone (the connection is closing). */
  clear(): void {
    this.channels.clear();
  }

  /**
   * During the probe, before Redis counts as up: drops the channels nobody listens to any
   * more and subscribes every one that has listeners; throws when the subscriber fails.
   */
  async reconcile(): Promise<void> {
    const stale = [...this.subscribedAtRedis].filter((channel) => !this.channels.has(channel));
    if (stale.length > 0) {
      await this.subscriber.unsubscribe(...stale);
      for (const channel of stale) this.subscribedAtRedis.delete(channel);
    }
    const wanted = [...this.channels.keys()];
    if (wanted.length > 0) {
      const subscribed = this.subscriber.subscribe(...wanted);
      const ready = subscribed.then(
        () => true,
        () => false,
      );
      for (const channel of wanted) this.channels.get(channel)!.ready = ready;
      await subscribed;
      for (const channel of wanted) this.subscribedAtRedis.add(channel);
    }
  }

  /** Redis is up: channels that gained their first listener, or lost their last, while the probe ran. */
  resync(): void {
    const missing = [...this.channels.keys()].filter((channel) => !this.subscribedAtRedis.has(channel));
    if (missing.length > 0) {
      const ready = this.sendSubscribe(missing);
      for (const channel of missing) this.channels.get(channel)!.ready = ready;
    }
    const stale = [...this.subscribedAtRedis].filter((channel) => !this.channels.has(channel));
    if (stale.length > 0) this.unsubscribeInBackground(stale);
  }

  /** Nobody waits for an UNSUBSCRIBE: its outcome only updates what Redis is known to hold. */
  private unsubscribeInBackground(channels: string[]): void {
    background(this.sendUnsubscribe(channels), this.log, 'fleet: unsubscribing from Redis failed');
  }

  private sendSubscribe(channels: string[]): Promise<boolean> {
    return this.onSubscriber(this.subscriber.subscribe(...channels), () => {
      for (const channel of channels) this.subscribedAtRedis.add(channel);
    });
  }

  private sendUnsubscribe(channels: string[]): Promise<boolean> {
    return this.onSubscriber(this.subscriber.unsubscribe(...channels), () => {
      for (const channel of channels) if (!this.channels.has(channel)) this.subscribedAtRedis.delete(channel);
    });
  }

  /** A (un)subscribe with the command deadline: true once Redis confirmed it. */
  private onSubscriber(work: Promise<unknown>, confirmed: () => void): Promise<boolean> {
    return withinDeadline(work, this.health.commandTimeoutMs).then(
      (reply) => {
        if (reply === TIMED_OUT) {
          this.health.timedOut();
          return false;
        }
        confirmed();
        return true;
      },
      (error: unknown) => {
        if (!isReplyError(error)) this.health.failed();
        return false;
      },
    );
  }
}
