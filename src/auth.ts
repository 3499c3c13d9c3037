/**
 * Client authentication: when TASKGATE_API_KEYS is set, `/tasks` routes need
 * `Authorization: Bearer <one of them>`. Keys are compared in constant time (as SHA-256
 * digests, so neither their content nor their length leaks through timing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from './errors.js';

const THROTTLE_WINDOW_MS = 60_000;
/** Client addresses whose failures are tracked one by one; past it they share one window. */
const THROTTLED_ADDRESSES = 10_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Which client key authenticated this request (`key-<n>`), for rate limiting and logs. */
    clientKeyId?: string;
    /**
     * A stable name of that key which reveals nothing of it, and survives a reordering of
     * TASKGATE_API_KEYS: what the client is known by across requests (src/client-identity.ts).
     */
    clientKeyTag?: string;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * A key's tag: the first 12 bytes of its SHA-256 digest. Kept on the server only (who owns
 * a webhook, whose quota a request counts against), never handed out in a token.
 */
export function keyTagOf(key: string): string {
  return tagOf(digest(key));
}

function tagOf(keyDigest: Buffer): string {
  return keyDigest.subarray(0, 12).toString('base64url');
}

export class ClientKeys {
  private readonly digests: Buffer[];
  private readonly tags: string[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
    this.tags = this.digests.map(tagOf);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The id of the matching key, or undefined. Checks every key so timing says nothing. */
  match(candidate: string): string | undefined {
    const index = this.indexOf(candidate);
    return index === undefined ? undefined : `key-${index + 1}`;
  }

  private indexOf(candidate: string): number | undefined {
    const candidateDigest = digest(candidate);
    let found: number | undefined;
    this.digests.forEach((known, index) => {
      if (timingSafeEqual(known, candidateDigest) && found === undefined) found = index;
    });
    return found;
  }

  /** onRequest hook body: throws 401 unless the request carries a valid key. */
  authenticate(request: FastifyRequest): void {
    if (!this.enabled) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
    const index = match?.[1] === undefined ? undefined : this.indexOf(match[1]);
    if (index === undefined) throw new GatewayError('unauthorized', { detail: refusal(header, match !== null) });
    request.clientKeyId = `key-${index + 1}`;
    request.clientKeyTag = this.tags[index];
  }
}

/** Why a request's `Authorization` is refused, in the words that help its sender fix it. */
function refusal(header: string | undefined, bearer: boolean): string {
  if (header === undefined) return 'This gateway needs `Authorization: Bearer <key>`.';
  if (bearer) return 'The key in `Authorization` is not valid for this gateway.';
  // Only a well-known scheme is named back: a first word of anything else may be the key itself.
  const scheme = /^(Basic|Token|Key|Digest|ApiKey|Api-Key)\s/i.exec(header)?.[1];
  if (scheme !== undefined) return `\`Authorization\` uses the ${scheme} scheme; this gateway takes \`Authorization: Bearer <key>\`.`;
  return /^\S+$/.test(header.trim())
    ? '`Authorization` has no scheme: send `Authorization: Bearer <key>`.'
    : '`Authorization` does not use the Bearer scheme: send `Authorization: Bearer <key>`.';
}

/** One address's (or the overflow's) failed authentications in its current window. */
interface FailureWindow {
  failures: number;
  endsAt: number;
}

/**
 * Failed authentications per client address ("failed authentications are
 * throttled per client address"): after `perMinute` of them in a one-minute window, the
 * address is refused with 429 until the window ends, without its key being looked at, so
 * guessing cannot go on (a right guess would otherwise show as a 200 among the 429s).
 *
 * Memory is bounded, and spraying addresses cannot flush it: an address is tracked until
 * its window ends, never pushed out by newer ones. Once `maxAddresses` are tracked, the
 * addresses that find no room share one window, as if they were one address: past
 * `perMinute` failures among them all, every untracked address is refused until it ends.
 */
export class FailedAuthThrottle {
  /** In the order their windows began (a new window is a new entry): the oldest end first. */
  private readonly windows = new Map<string, FailureWindow>();
  private overflow: FailureWindow = { failures: 0, endsAt: 0 };

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses: number = THROTTLED_ADDRESSES,
  ) {}

  /** 0 = never throttle. */
  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Addresses tracked one by one right now (at most `maxAddresses`). */
  get trackedAddresses(): number {
    return this.windows.size;
  }

  /** Throws 429 rate_limited while this address (or, untracked, the overflow) has used up its failures for the window. */
  check(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window !== undefined) {
      if (window.failures < this.perMinute) return;
      if (window.endsAt <= now) {
        this.windows.delete(address);
        return;
      }
      throw this.refusal(window.endsAt - now, 'from this address');
    }
    if (this.overflow.failures >= this.perMinute && this.overflow.endsAt > now) {
      throw this.refusal(this.overflow.endsAt - now, `from the addresses past the ${this.maxAddresses} this gateway tracks one by one`);
    }
  }

  recordFailure(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window !== undefined && window.endsAt > now) {
      window.failures++;
      return;
    }
    if (window !== undefined) this.windows.delete(address);
    this.forgetEnded(now);
    if (this.windows.size < this.maxAddresses) {
      this.windows.set(address, { failures: 1, endsAt: now + THROTTLE_WINDOW_MS });
      return;
    }
    if (this.overflow.endsAt <= now) this.overflow = { failures: 0, endsAt: now + THROTTLE_WINDOW_MS };
    this.overflow.failures++;
  }

  /** Drops the windows that ended: the oldest come first, so this stops at the first live one (each is dropped once). */
  private forgetEnded(now: number): void {
    for (const [address, window] of this.windows) {
      if (window.endsAt > now) return;
      this.windows.delete(address);
    }
  }

  private refusal(remainingMs: number, from: string): GatewayError {
    const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
    return new GatewayError('rate_limited', {
      retryAfter: seconds,
      detail: `${this.perMinute} failed authentications ${from} within a minute; retry in ${seconds} s.`,
    });
  }
}
