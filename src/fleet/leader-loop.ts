/**
 * One poll loop per watched task across the fleet. Every replica with local waiters joins
 * the task's key; the one holding the key's lease (renewed on every tick, TTL about two
 * intervals) gets `onTick` each interval and publishes what it found; every joined
 * replica gets each message. A follower looks at the lease every interval, or right when
 * it is due to expire, so a dead leader is replaced within about two intervals. While
 * Redis is unavailable every joined replica ticks for itself, and they sort out a single
 * leader again once it is back.
 */
import { randomUUID } from 'node:crypto';
import { background } from '../background.js';
import { Lease } from './lease.js';
import { UNAVAILABLE, type FleetRedis, type RedisChannel, type Subscription } from './redis.js';

/** How messages of a type other than string cross Redis; a message that does not decode is dropped. */
export interface MessageCodec<M> {
  encode(message: M): string;
  decode(text: string): M | undefined;
}

export interface LeaderJoinOptions<M = string> {
  intervalMs: number;
  /** Lease time; default twice the interval. */
  leaseMs?: number;
  /** Polls upstream and publishes; must handle its own errors. A tick is skipped while the previous one still runs. */
  onTick: () => void | Promise<void>;
  onMessage: (message: M) => void;
  /** Needed unless messages are strings. */
  codec?: MessageCodec<M>;
}

/** `local`: Redis is unavailable and this replica ticks on its own. */
export type LeaderRole = 'joining' | 'leader' | 'follower' | 'local';

export interface LeaderMembership<M = string> {
  readonly role: LeaderRole;
  /** To every joined replica; this one's `onMessage` gets it at once (the same object), not through Redis. */
  publish(message: M): void;
  /** Stops ticking, unsubscribes and releases the lease if held. */
  leave(): void;
}

export class AlreadyJoinedError extends Error {
  constructor(readonly key: string) {
    super(`This process already joined the leader loop of "${key}"; share that membership.`);
    this.name = 'AlreadyJoinedError';
  }
}

interface LoopContext {
  redis: FleetRedis;
  lease: Lease;
  replicaId: string;
}

const STRING_CODEC: MessageCodec<string> = { encode: (message) => message, decode: (text) => text };

class Member<M> implements LeaderMembership<M> {
  role: LeaderRole = 'joining';
  private token: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private left = false;
  private readonly leaseName: string;
  private readonly channel: RedisChannel;
  private readonly leaseMs: number;
  private readonly subscription: Subscription;
  private readonly codec: MessageCodec<M>;

  constructor(
    private readonly context: LoopContext,
    key: string,
    private readonly options: LeaderJoinOptions<M>,
    private readonly onLeave: (member: Member<M>) => void,
  ) {
    this.codec = options.codec ?? (STRING_CODEC as unknown as MessageCodec<M>);
    this.leaseName = `leader:${key}`;
    this.channel = context.redis.channel('leader', key);
    this.leaseMs = options.leaseMs ?? options.intervalMs * 2;
    this.subscription = context.redis.subscribe(this.channel, (raw) => this.receive(raw));
    this.runStep();
  }

  /** One lease step (its Redis calls answer UNAVAILABLE rather than throw; anything else is logged). */
  private runStep(): void {
    background(this.step(), this.context.redis.log, 'fleet: a leader-loop step failed', { lease: this.leaseName });
  }

  private scheduleStep(ms: number): void {
    this.timer = setTimeout(() => this.runStep(), ms);
    // Like the in-process poll loops: never what keeps the process alive.
    this.timer.unref();
  }

  publish(message: M): void {
    if (this.left) return;
    this.deliver(message);
    let text: string;
    try {
      text = this.codec.encode(message);
    } catch {
      return;
    }
    background(this.context.redis.publish(this.channel, `${this.context.replicaId}\n${text}`), this.context.redis.log, 'fleet: publishing a loop message failed', { lease: this.leaseName });
  }

  leave(): void {
    if (this.left) return;
    this.left = true;
    clearTimeout(this.timer);
    this.subscription.unsubscribe();
    if (this.token !== undefined) this.release(this.token);
    this.token = undefined;
    this.onLeave(this);
  }

  private receive(raw: string): void {
    const newline = raw.indexOf('\n');
    // Our own messages were delivered when we published them.
    if (newline < 0 || raw.slice(0, newline) === this.context.replicaId) return;
    let message: M | undefined;
    try {
      message = this.codec.decode(raw.slice(newline + 1));
    } catch {
      message = undefined;
    }
    if (message !== undefined) this.deliver(message);
  }

  private deliver(message: M): void {
    if (this.left) return;
    try {
      this.options.onMessage(message);
    } catch {
      // A listener's failure is its own; the loop keeps going.
    }
  }

  private async step(): Promise<void> {
    const previous = this.role;
    let nextStepMs = this.options.intervalMs;
    const { lease } = this.context;
    if (this.token !== undefined) {
      const renewed = await lease.renew(this.leaseName, this.token, this.leaseMs);
      if (this.left) return;
      if (renewed === UNAVAILABLE) this.role = 'local';
      else if (renewed) this.role = 'leader';
      else this.token = undefined;
    }
    if (this.token === undefined) {
      const attempt = await lease.attempt(this.leaseName, this.leaseMs);
      if (this.left) {
        if (attempt !== UNAVAILABLE && attempt.acquired) this.release(attempt.token);
        return;
      }
      if (attempt === UNAVAILABLE) {
        this.role = 'local';
      } else if (attempt.acquired) {
        this.token = attempt.token;
        this.role = 'leader';
      } else {
        this.role = 'follower';
        // Look again right when the leader's lease would run out if it stopped renewing.
        if (attempt.ttlMs !== null) nextStepMs = Math.min(nextStepMs, attempt.ttlMs + 1);
      }
    }
    // The first tick comes one interval after joining (the joiner has just read the state);
    // a takeover ticks at once, the dead leader's tick being overdue.
    if (previous !== 'joining' && (this.role === 'leader' || this.role === 'local')) background(this.tick(), this.context.redis.log, 'fleet: a leader tick failed', { lease: this.leaseName });
    this.scheduleStep(nextStepMs);
  }

  private release(token: string): void {
    background(this.context.lease.release(this.leaseName, token), this.context.redis.log, 'fleet: releasing a lease failed', { lease: this.leaseName });
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.options.onTick();
    } catch {
      // onTick handles its own errors; a rejection must not stop the loop.
    } finally {
      this.ticking = false;
    }
  }
}

export class LeaderLoop {
  /** Tells this process's messages apart from other replicas' on the shared channel. */
  readonly replicaId = randomUUID();
  private readonly members = new Map<string, Member<never>>();
  private readonly context: LoopContext;

  constructor(redis: FleetRedis) {
    this.context = { redis, lease: new Lease(redis), replicaId: this.replicaId };
  }

  /** Distinct task keys joined here (one channel subscription each). */
  get joined(): number {
    return this.members.size;
  }

  /** Keys whose lease this replica holds in Redis (not counting local ticking while Redis is down). */
  get leasesHeld(): number {
    let held = 0;
    for (const member of this.members.values()) if (member.role === 'leader') held++;
    return held;
  }

  join<M = string>(key: string, options: LeaderJoinOptions<M>): LeaderMembership<M> {
    if (this.members.has(key)) throw new AlreadyJoinedError(key);
    const member: Member<M> = new Member(this.context, key, options, (left) => {
      if (this.members.get(key) === (left as unknown)) this.members.delete(key);
    });
    this.members.set(key, member as unknown as Member<never>);
    return member;
  }

  /** Leaves every key (releasing the leases held). */
  close(): void {
    for (const member of [...this.members.values()]) member.leave();
  }
}
