/**
 * Single flight across the fleet: one call per key at a time, whichever replica is asked.
 * The replica that takes the key's lease runs the call, then stores its outcome briefly,
 * publishes it on the key's channel and releases the lease, all in one script. The others
 * subscribe, look for an outcome published before they subscribed, and wait. A waiter
 * runs the call itself when the holder ends without an outcome (it died: its lease
 * expired), when its budget is close to running out, or when Redis is unavailable.
 * Errors travel as data and are re-created on the waiting side by the codec.
 */
import { background } from '../background.js';
import { z } from 'zod';
import { Lease } from './lease.js';
import { luaScript } from './lua.js';
import { toPx, UNAVAILABLE, type FleetRedis, type RedisChannel, type RedisKey } from './redis.js';

/** An error as it crosses replicas: what a problem answer needs, nothing that could leak. */
export interface SharedError {
  code: string;
  detail: string;
  provider?: string;
  retryAfter?: number;
}

export interface FlightCodec<V> {
  /** To a JSON-serializable form. */
  encodeValue(value: V): unknown;
  /** Back from it; throws (a zod parse, say) when the data does not fit, and the waiter then runs the call itself. */
  decodeValue(data: unknown): V;
  /** undefined: not shared; waiters see the lease end without an outcome and run the call themselves. */
  encodeError(error: unknown): SharedError | undefined;
  decodeError(error: SharedError): Error;
}

export interface FleetSingleFlightOptions<V> {
  redis: FleetRedis;
  /** Keeps flights of different kinds apart under the prefix. */
  namespace: string;
  codec: FlightCodec<V>;
  /** How long a finished call's outcome stays readable for waiters that subscribed late. */
  outcomeTtlMs?: number;
  /** Longest a waiter goes without looking at Redis (to notice a dead holder or a dead Redis). */
  recheckMs?: number;
}

export interface FlightCall<V> {
  /** The caller's whole budget for this call, waiting included. */
  budgetMs: number;
  /** Lease time; the holder renews it at half-time while the call runs, so it bounds only how long a dead holder blocks. */
  leaseMs: number;
  run: () => Promise<V>;
  /** A waiter stops waiting and runs the call itself when this much budget is left (default: a quarter of it). */
  reserveMs?: number;
}

export const SharedErrorSchema = z.object({
  code: z.string(),
  detail: z.string(),
  provider: z.string().optional(),
  retryAfter: z.number().optional(),
});

const OutcomeSchema = z.discriminatedUnion('ok', [
  z.object({ token: z.string(), ok: z.literal(true), value: z.unknown() }),
  z.object({ token: z.string(), ok: z.literal(false), error: SharedErrorSchema }),
]);
type Outcome = z.infer<typeof OutcomeSchema>;

// Store, publish and release in one step: a waiter that sees the lease gone finds the outcome.
const FINISH = luaScript<{ token: string; outcome: string; outcomeTtlMs: number; channel: string }>('fleet', 'flight-finish');
const INSPECT = luaScript('fleet', 'flight-inspect');

const RENEW_EVERY_FRACTION = 0.5;

function parseOutcome(text: string): Outcome | undefined {
  if (text === '') return undefined;
  try {
    const parsed = OutcomeSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

interface Inspection {
  holder: string | null;
  leaseTtlMs: number;
  stored: Outcome | undefined;
}

export class FleetSingleFlight<V> {
  private readonly redis: FleetRedis;
  private readonly lease: Lease;
  private readonly namespace: string;
  private readonly codec: FlightCodec<V>;
  private readonly outcomeTtlMs: number;
  private readonly recheckMs: number;
  /** Callers in this process share one fleet flight per key (the first caller's options rule). */
  private readonly local = new Map<string, Promise<V>>();
  private leadingCount = 0;

  constructor(options: FleetSingleFlightOptions<V>) {
    this.redis = options.redis;
    this.lease = new Lease(options.redis);
    this.namespace = options.namespace;
    this.codec = options.codec;
    this.outcomeTtlMs = options.outcomeTtlMs ?? 1000;
    this.recheckMs = options.recheckMs ?? 100;
  }

  get inFlight(): number {
    return this.local.size;
  }

  /** Flights whose lease this process holds right now (it runs their call for the fleet). */
  get leading(): number {
    return this.leadingCount;
  }

  execute(key: string, call: FlightCall<V>): Promise<V> {
    const pending = this.local.get(key);
    if (pending !== undefined) return pending;
    const flight = this.coordinate(key, call).finally(() => this.local.delete(key));
    this.local.set(key, flight);
    return flight;
  }

  /** The lease, outcome key and channel a flight uses (public for operators and tests). */
  leaseName(key: string): string {
    return `flight:${this.namespace}:${key}`;
  }

  outcomeKey(key: string): RedisKey {
    return this.redis.key('flight-outcome', this.namespace, key);
  }

  channel(key: string): RedisChannel {
    return this.redis.channel('flight', this.namespace, key);
  }

  private async coordinate(key: string, call: FlightCall<V>): Promise<V> {
    const startedAt = Date.now();
    const attempt = await this.lease.attempt(this.leaseName(key), call.leaseMs);
    if (attempt === UNAVAILABLE) return call.run();
    if (attempt.acquired) return this.lead(key, attempt.token, call);
    return this.follow(key, attempt.holder, startedAt, call);
  }

  private async lead(key: string, token: string, call: FlightCall<V>): Promise<V> {
    const renewal = setInterval(
      () => background(this.lease.renew(this.leaseName(key), token, call.leaseMs), this.redis.log, 'fleet: renewing a flight lease failed'),
      Math.max(1, call.leaseMs * RENEW_EVERY_FRACTION),
    );
    renewal.unref();
    let value: V;
    this.leadingCount++;
    try {
      value = await call.run();
    } catch (error) {
      this.leadingCount--;
      clearInterval(renewal);
      const shared = this.safely(() => this.codec.encodeError(error));
      background(this.finish(key, token, shared === undefined ? undefined : { token, ok: false, error: shared }), this.redis.log, 'fleet: publishing a failed flight failed');
      throw error;
    }
    this.leadingCount--;
    clearInterval(renewal);
    const encoded = this.safely(() => ({ data: this.codec.encodeValue(value) }));
    background(this.finish(key, token, encoded === undefined ? undefined : { token, ok: true, value: encoded.data }), this.redis.log, 'fleet: publishing a flight\'s answer failed');
    return value;
  }

  /** Runs `encode`, turning a throw into "not shared": a codec bug must not change what the holder returns. */
  private safely<T>(encode: () => T): T | undefined {
    try {
      return encode();
    } catch {
      return undefined;
    }
  }

  private async finish(key: string, token: string, outcome: Outcome | undefined): Promise<void> {
    let payload = '';
    if (outcome !== undefined) {
      payload = this.safely(() => JSON.stringify(outcome)) ?? '';
    }
    await this.redis.runScript(FINISH, [this.lease.key(this.leaseName(key)), this.outcomeKey(key)], {
      token,
      outcome: payload,
      outcomeTtlMs: toPx(this.outcomeTtlMs),
      channel: this.channel(key),
    });
  }

  private async inspect(key: string): Promise<Inspection | typeof UNAVAILABLE> {
    const reply = await this.redis.runScript(INSPECT, [this.lease.key(this.leaseName(key)), this.outcomeKey(key)], undefined);
    if (reply === UNAVAILABLE || !Array.isArray(reply)) return UNAVAILABLE;
    const [holder, leaseTtl, stored] = reply as unknown[];
    return {
      holder: typeof holder === 'string' && holder !== '' ? holder : null,
      leaseTtlMs: typeof leaseTtl === 'number' ? leaseTtl : -2,
      stored: typeof stored === 'string' ? parseOutcome(stored) : undefined,
    };
  }

  private async follow(key: string, holder: string | null, startedAt: number, call: FlightCall<V>): Promise<V> {
    const reserveMs = call.reserveMs ?? call.budgetMs / 4;
    const giveUpAt = startedAt + call.budgetMs - reserveMs;
    let delivered: Outcome | undefined;
    let wake: (() => void) | undefined;
    // Anything published after we subscribed comes from the flight we wait for or a later one.
    const subscription = this.redis.subscribe(this.channel(key), (message) => {
      delivered ??= parseOutcome(message);
      if (delivered !== undefined) wake?.();
    });
    try {
      if (!(await subscription.ready)) return await call.run();
      let expected = holder;
      for (;;) {
        if (delivered !== undefined) return await this.settle(delivered, call);
        if (Date.now() >= giveUpAt) return await call.run();
        const seen = await this.inspect(key);
        if (seen === UNAVAILABLE) return await call.run();
        if (delivered !== undefined) continue;
        // A stored outcome counts only if it is the one of the holder we found at the lease.
        if (seen.stored !== undefined && seen.stored.token === expected) return await this.settle(seen.stored, call);
        if (seen.holder === null) {
          const attempt = await this.lease.attempt(this.leaseName(key), call.leaseMs);
          if (attempt === UNAVAILABLE) return await call.run();
          if (attempt.acquired) return await this.lead(key, attempt.token, call);
          expected = attempt.holder;
          continue;
        }
        expected = seen.holder;
        // PTTL 0 means "expires within this millisecond", not "no expiry" (-1).
        const untilExpiry = seen.leaseTtlMs >= 0 ? seen.leaseTtlMs + 1 : this.recheckMs;
        const waitMs = Math.max(1, Math.min(untilExpiry, this.recheckMs, giveUpAt - Date.now()));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      subscription.unsubscribe();
    }
  }

  private async settle(outcome: Outcome, call: FlightCall<V>): Promise<V> {
    if (!outcome.ok) throw this.codec.decodeError(outcome.error);
    let value: V;
    try {
      value = this.codec.decodeValue(outcome.value);
    } catch {
      return call.run();
    }
    return value;
  }
}
