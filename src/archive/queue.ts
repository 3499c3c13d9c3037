/**
 * The tasks waiting for their copy, and who copies each: in this process (no Redis), or
 * shared by the fleet through Redis, so each task is copied by exactly one replica. A
 * task stays queued until its record is written; the replica copying it holds a lease it
 * renews, so when that replica dies the lease runs out and another replica's sweep takes
 * the task over. Both implementations run one contract test suite.
 */
import { background } from '../background.js';
import { Lease } from '../fleet/lease.js';
import { UNAVAILABLE, type FleetRedis, type Subscription } from '../fleet/redis.js';

/** A task waiting for its copy: `provider:nativeId`, and when it was first seen succeeded (epoch ms). */
export interface QueuedCopy {
  key: string;
  seenAt: number;
}

/** `local`: Redis is unavailable; the replica copies on its own (the archive then may hold a task copied twice, never none). */
export type Claim = { token: string } | 'taken' | 'local';

export interface CopyQueue {
  /** Queues a task (kept where it was if already queued). */
  add(key: string, seenAt: number): Promise<void>;
  /** Takes the task out of the queue: its record is written. */
  remove(key: string): Promise<void>;
  /** The oldest queued tasks, first seen first. */
  oldest(limit: number): Promise<QueuedCopy[]>;
  /** How many are queued, and the oldest's `seenAt`. */
  stats(): Promise<{ depth: number; oldestSeenAt: number | undefined }>;
  claim(key: string, leaseMs: number): Promise<Claim>;
  /** False when the lease is no longer ours. */
  renew(key: string, token: string, leaseMs: number): Promise<boolean>;
  release(key: string, token: string): Promise<void>;
  /** True for at most one replica per `intervalMs` (the retention sweep's turn). */
  takeTurn(name: string, intervalMs: number): Promise<boolean>;
  /** Tells every replica a task's record was written; `listener` hears the others'. */
  announceStored(key: string): void;
  onStored(listener: (key: string) => void): void;
  close(): void;
}

export class InProcessCopyQueue implements CopyQueue {
  private readonly queued = new Map<string, number>();
  private readonly leases = new Map<string, { token: string; until: number }>();
  private readonly turns = new Map<string, number>();
  private next = 0;

  constructor(private readonly now: () => number = Date.now) {}

  add(key: string, seenAt: number): Promise<void> {
    if (!this.queued.has(key)) this.queued.set(key, seenAt);
    return Promise.resolve();
  }

  remove(key: string): Promise<void> {
    this.queued.delete(key);
    return Promise.resolve();
  }

  oldest(limit: number): Promise<QueuedCopy[]> {
    const all = [...this.queued].map(([key, seenAt]) => ({ key, seenAt })).sort((left, right) => left.seenAt - right.seenAt);
    return Promise.resolve(all.slice(0, limit));
  }

  stats(): Promise<{ depth: number; oldestSeenAt: number | undefined }> {
    let oldestSeenAt: number | undefined;
    for (const seenAt of this.queued.values()) if (oldestSeenAt === undefined || seenAt < oldestSeenAt) oldestSeenAt = seenAt;
    return Promise.resolve({ depth: this.queued.size, oldestSeenAt });
  }

  claim(key: string, leaseMs: number): Promise<Claim> {
    const held = this.leases.get(key);
    if (held !== undefined && held.until > this.now()) return Promise.resolve('taken');
    const token = String(++this.next);
    this.leases.set(key, { token, until: this.now() + leaseMs });
    return Promise.resolve({ token });
  }

  renew(key: string, token: string, leaseMs: number): Promise<boolean> {
    const held = this.leases.get(key);
    if (held?.token !== token) return Promise.resolve(false);
    held.until = this.now() + leaseMs;
    return Promise.resolve(true);
  }

  release(key: string, token: string): Promise<void> {
    if (this.leases.get(key)?.token === token) this.leases.delete(key);
    return Promise.resolve();
  }

  takeTurn(name: string, intervalMs: number): Promise<boolean> {
    const until = this.turns.get(name);
    if (until !== undefined && until > this.now()) return Promise.resolve(false);
    this.turns.set(name, this.now() + intervalMs);
    return Promise.resolve(true);
  }

  announceStored(): void {}

  onStored(): void {}

  close(): void {}
}

/** How long the queue itself lives in Redis without a new task (every key has a TTL). */
const QUEUE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const ADD = `
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const STATS = `return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')}`;

export class RedisCopyQueue implements CopyQueue {
  private readonly lease: Lease;
  private readonly channel;
  private readonly queueKey;
  private readonly replicaId: string;
  private subscription: Subscription | undefined;
  /** While Redis is down the queue is this process's, so no task seen meanwhile is dropped. */
  private readonly fallback: InProcessCopyQueue;

  constructor(
    private readonly redis: FleetRedis,
    replicaId: string,
  ) {
    this.lease = new Lease(redis);
    this.queueKey = redis.key('archive', 'queue');
    this.channel = redis.channel('archive', 'stored');
    this.replicaId = replicaId;
    this.fallback = new InProcessCopyQueue();
  }

  async add(key: string, seenAt: number): Promise<void> {
    const reply = await this.redis.run((client) => client.eval(ADD, 1, this.queueKey, seenAt, key, QUEUE_TTL_MS));
    if (reply === UNAVAILABLE) await this.fallback.add(key, seenAt);
  }

  async remove(key: string): Promise<void> {
    await this.fallback.remove(key);
    await this.redis.run((client) => client.zrem(this.queueKey, key));
  }

  async oldest(limit: number): Promise<QueuedCopy[]> {
    const reply = await this.redis.run((client) => client.zrange(this.queueKey, 0, limit - 1, 'WITHSCORES'));
    const local = await this.fallback.oldest(limit);
    if (reply === UNAVAILABLE) return local;
    const shared: QueuedCopy[] = [];
    for (let index = 0; index + 1 < reply.length; index += 2) shared.push({ key: reply[index]!, seenAt: Number(reply[index + 1]) });
    // What was queued here while Redis was down goes back to the fleet's queue now that it is up.
    for (const entry of local) {
      await this.redis.run((client) => client.eval(ADD, 1, this.queueKey, entry.seenAt, entry.key, QUEUE_TTL_MS));
      await this.fallback.remove(entry.key);
    }
    return shared;
  }

  async stats(): Promise<{ depth: number; oldestSeenAt: number | undefined }> {
    const reply = await this.redis.run((client) => client.eval(STATS, 1, this.queueKey));
    if (reply === UNAVAILABLE || !Array.isArray(reply)) return this.fallback.stats();
    const [depth, first] = reply as [unknown, unknown];
    const score = Array.isArray(first) ? Number(first[1]) : Number.NaN;
    return { depth: Number(depth), oldestSeenAt: Number.isFinite(score) ? score : undefined };
  }

  async claim(key: string, leaseMs: number): Promise<Claim> {
    const token = await this.lease.tryAcquire(`archive:${key}`, leaseMs);
    if (token === UNAVAILABLE) return 'local';
    return token === null ? 'taken' : { token };
  }

  async renew(key: string, token: string, leaseMs: number): Promise<boolean> {
    const renewed = await this.lease.renew(`archive:${key}`, token, leaseMs);
    // Redis down: the lease is still ours as far as anyone can tell; the copy goes on.
    return renewed === UNAVAILABLE || renewed;
  }

  async release(key: string, token: string): Promise<void> {
    await this.lease.release(`archive:${key}`, token);
  }

  async takeTurn(name: string, intervalMs: number): Promise<boolean> {
    // Never released: it runs out by itself, so the next turn comes one interval later, on whichever replica asks first.
    const token = await this.lease.tryAcquire(`archive-turn:${name}`, intervalMs);
    return token === UNAVAILABLE ? this.fallback.takeTurn(name, intervalMs) : token !== null;
  }

  announceStored(key: string): void {
    background(this.redis.publish(this.channel, `${this.replicaId}\n${key}`), this.redis.log, 'archive: announcing a stored copy failed');
  }

  onStored(listener: (key: string) => void): void {
    this.subscription?.unsubscribe();
    this.subscription = this.redis.subscribe(this.channel, (message) => {
      const newline = message.indexOf('\n');
      if (newline > 0 && message.slice(0, newline) !== this.replicaId) listener(message.slice(newline + 1));
    });
  }

  close(): void {
    this.subscription?.unsubscribe();
  }
}
