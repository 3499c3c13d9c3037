/**
 * Browser links (DESIGN.md "Browser links"): short-lived tokens scoped to one task, minted
 * by an app's backend with its client key and accepted in place of `Authorization` on the
 * task's status, events and content. A token is `<expiry>.<key tag>.<signature>`: the HMAC
 * (the link secret) covers the task id, the expiry and the minting key's tag, so it is
 * valid for that id only, until it expires, and only while that key is configured.
 *
 * A page publishes its tokens, so nothing in one may help a guess at the key: the tag is
 * itself an HMAC of the key under the link secret (a plain hash of a weak key is reversed
 * offline with a dictionary in seconds), and the expiry is signed as the canonical decimal
 * it is written in, so there is exactly one spelling of each token.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { LinkSet } from '../schemas/links.js';
import { contentUrl } from './tasks/render.js';

/** The key tag of a link minted on an open gateway. */
export const OPEN_TAG = 'open';
/** Unix seconds in canonical decimal (no leading zero, no sign), a key tag, a base64url SHA-256. */
const TOKEN = /^([1-9]\d{0,11})\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/;
/** 12 bytes of HMAC: 16 characters in a URL, and 2^96 tags to tell keys apart. */
const TAG_BYTES = 12;

export interface MintedLink {
  token: string;
  expiresAtMs: number;
}

/** The tag a token carries for a client key: an HMAC of it under the link secret, never a plain hash. */
export function keyTag(secret: Buffer, key: string): string {
  return createHmac('sha256', secret).update(`taskgate-link-key-v2\n${key}`).digest().subarray(0, TAG_BYTES).toString('base64url');
}

export class LinkSigner {
  private readonly secret: Buffer;
  /** The tag of each configured client key, in TASKGATE_API_KEYS order (`key-<n>` is the n-th). */
  private readonly tags: readonly string[];
  private readonly knownTags: ReadonlySet<string>;

  /** Without a secret, a random one: links then die with the process (the server warns). */
  constructor(
    secret: string | Buffer | undefined,
    private readonly clientKeys: readonly string[],
  ) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
    this.tags = clientKeys.map((key) => keyTag(this.secret, key));
    this.knownTags = new Set(this.tags);
  }

  /** The tag of the key with this id (`key-<n>`), as tokens minted with it carry it. */
  tagFor(keyId: string): string | undefined {
    return this.tags[Number(keyId.slice('key-'.length)) - 1];
  }

  /** A token for `taskId` valid for `ttlSeconds`, minted with the key `keyId` (undefined: open gateway). */
  mint(taskId: string, ttlSeconds: number, keyId: string | undefined, nowMs = Date.now()): MintedLink {
    const expires = String(Math.floor(nowMs / 1000) + ttlSeconds);
    const tag = keyId === undefined ? OPEN_TAG : (this.tagFor(keyId) ?? OPEN_TAG);
    return { token: `${expires}.${tag}.${this.sign(taskId, expires, tag).toString('base64url')}`, expiresAtMs: Number(expires) * 1000 };
  }

  /** Does this token authorize requests about `taskId` now? Constant-time on the signature. */
  verify(token: string, taskId: string, nowMs = Date.now()): boolean {
    const match = TOKEN.exec(token);
    if (match === null) return false;
    const [, expires, tag, signature] = match as unknown as [string, string, string, string];
    if (Number(expires) * 1000 <= nowMs) return false;
    // A link lives only as long as the key that minted it (or the gateway stays open).
    if (tag === OPEN_TAG ? this.clientKeys.length > 0 : !this.knownTags.has(tag)) return false;
    const expected = this.sign(taskId, expires, tag);
    const given = Buffer.from(signature, 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** `expires` as written in the token: its one canonical spelling is what is signed. */
  private sign(taskId: string, expires: string, tag: string): Buffer {
    return createHmac('sha256', this.secret).update(`taskgate-link-v2\n${taskId}\n${expires}\n${tag}`).digest();
  }
}

/** The URLs of one task carrying a minted token, under the gateway's public `origin`. */
export function linkSet(taskId: string, minted: MintedLink, origin: string): LinkSet {
  const token = encodeURIComponent(minted.token);
  const taskPath = `${origin}/tasks/${encodeURIComponent(taskId)}`;
  return {
    task_id: taskId,
    expires_at: new Date(minted.expiresAtMs).toISOString().replace('.000Z', 'Z'),
    task_url: `${taskPath}?token=${token}`,
    events_url: `${taskPath}/events?token=${token}`,
    content_url: contentUrl({ origin, token: minted.token }, taskId),
  };
}
