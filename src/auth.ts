/**
 * Client authentication: when TASKGATE_API_KEYS is set, `/tasks` routes need
 * `Authorization: Bearer <one of them>`. Keys are compared in constant time (as SHA-256
 * digests, so neither their content nor their length leaks through timing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { GatewayError } from './errors.js';

const THROTTLE_WINDOW_MS = 60_000;
/** Client addresses whose failures are remembered at once; the least recent are forgotten. */
const THROTTLED_ADDRESSES = 10_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Which client key authenticated this request (`key-<n>`), for rate limiting and logs. */
    clientKeyId?: string;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class ClientKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The id of the matching key, or undefined. Checks every key so timing says nothing. */
  match(candidate: string): string | undefined {
    const candidateDigest = digest(candidate);
    let found: string | undefined;
    this.digests.forEach((known, index) => {
      if (timingSafeEqual(known, candidateDigest) && found === undefined) found = `key-${index + 1}`;
    });
    return found;
  }

  /** onRequest hook body: throws 401 unless the request carries a valid key. */
  authenticate(request: FastifyRequest): void {
    if (!this.enabled) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
    const keyId = match?.[1] === undefined ? undefined : this.match(match[1]);
    if (keyId === undefined) {
      throw new GatewayError('unauthorized', {
        detail:
          header === undefined
            ? 'This gateway needs `Authorization: Bearer <key>`.'
            : 'The key in `Authorization` is not valid for this gateway.',
      });
    }
    request.clientKeyId = keyId;
  }
}

/**
 * Failed authentications per client address (DESIGN.md: "failed authentications are
 * throttled per client address"): after `perMinute` of them in a one-minute window, the
 * address is refused with 429 until the window ends, without its key being looked at, so
 * guessing cannot go on (a right guess would otherwise show as a 200 among the 429s).
 */
export class FailedAuthThrottle {
  private readonly windows = new LRUCache<string, { failures: number; endsAt: number }>({ max: THROTTLED_ADDRESSES });

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 = never throttle. */
  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Throws 429 rate_limited while this address has used up its failures for the window. */
  check(address: string): void {
    const window = this.windows.get(address);
    if (window === undefined || window.failures < this.perMinute) return;
    const remainingMs = window.endsAt - this.now();
    if (remainingMs <= 0) {
      this.windows.delete(address);
      return;
    }
    throw new GatewayError('rate_limited', {
      retryAfter: Math.max(1, Math.ceil(remainingMs / 1000)),
      detail: `${this.perMinute} failed authentications from this address within a minute; retry in ${Math.ceil(remainingMs / 1000)} s.`,
    });
  }

  recordFailure(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window === undefined || window.endsAt <= now) this.windows.set(address, { failures: 1, endsAt: now + THROTTLE_WINDOW_MS });
    else window.failures++;
  }
}
