/**
 * Browser links (DESIGN.md "Browser links"): short-lived tokens scoped to one task, minted
 * by an app's backend with its client key and accepted in place of `Authorization` on the
 * task's status, events and content. A token is `<expiry>.<key tag>.<signature>`: the HMAC
 * (TASKGATE_LINK_SECRET) covers the task id, the expiry and the minting key's tag, so it
 * is valid for that id only, until it expires, and only while that key is configured.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { LinkSet } from '../schemas/links.js';
import type { ClientKeys } from './auth.js';
import { contentUrl } from './tasks/render.js';

/** The key tag of a link minted on an open gateway. */
export const OPEN_TAG = 'open';
const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/;

export interface MintedLink {
  token: string;
  expiresAtMs: number;
}

export class LinkSigner {
  private readonly secret: Buffer;

  /** Without a secret, a random one: links then die with the process (the server warns). */
  constructor(
    secret: string | undefined,
    private readonly clientKeys: ClientKeys,
  ) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  /** A token for `taskId` valid for `ttlSeconds`, minted with the key `keyId` (undefined: open gateway). */
  mint(taskId: string, ttlSeconds: number, keyId: string | undefined, nowMs = Date.now()): MintedLink {
    const expires = Math.floor(nowMs / 1000) + ttlSeconds;
    const tag = keyId === undefined ? OPEN_TAG : (this.clientKeys.tagFor(keyId) ?? OPEN_TAG);
    return { token: `${expires}.${tag}.${this.sign(taskId, expires, tag).toString('base64url')}`, expiresAtMs: expires * 1000 };
  }

  /** Does this token authorize requests about `taskId` now? Constant-time on the signature. */
  verify(token: string, taskId: string, nowMs = Date.now()): boolean {
    const match = TOKEN.exec(token);
    if (match === null) return false;
    const [, expiresText, tag, signature] = match as unknown as [string, string, string, string];
    const expires = Number(expiresText);
    if (expires * 1000 <= nowMs) return false;
    // A link lives only as long as the key that minted it (or the gateway stays open).
    if (tag === OPEN_TAG ? this.clientKeys.enabled : !this.clientKeys.hasTag(tag)) return false;
    const expected = this.sign(taskId, expires, tag);
    const given = Buffer.from(signature, 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private sign(taskId: string, expires: number, tag: string): Buffer {
    return createHmac('sha256', this.secret).update(`taskgate-link-v1\n${taskId}\n${expires}\n${tag}`).digest();
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
