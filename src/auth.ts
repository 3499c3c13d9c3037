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

/** A short, stable name of a key that reveals nothing of it (link tokens carry it). */
function tagOf(keyDigest: Buffer): string {
  return keyDigest.subarray(0, 12).toString('base64url');
}

export class ClientKeys {
  private readonly digests: Buffer[];
  private readonly tags: ReadonlySet<string>;

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
    this.tags = new Set(this.digests.map(tagOf));
  }

  /** The tag of the key with this id (`key-<n>`), for link tokens minted with it. */
  tagFor(keyId: string): string | undefined {
    const known = this.digests[Number(keyId.slice('key-'.length)) - 1];
    return known === undefined ? undefined : tagOf(known);
  }

  /** Is a key with this tag still configured? */
  hasTag(tag: string): boolean {
    return this.tags.has(tag);
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
    if (keyId === undefined) throw new GatewayError('unauthorized', { detail: refusal(header, match !== null) });
    request.clientKeyId = keyId;
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
