/**
 * Browser links (docs/content-and-links.md, "Browser links"): short-lived tokens scoped to one task, minted
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
import { background } from './background.js';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { LinkSet } from '../schemas/links.js';
import type { TaskStore } from './fleet/store.js';
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

/** One secret with the tags of the configured keys under it. */
interface SigningSecret {
  secret: Buffer;
  /** The tag of each configured client key, in TASKGATE_API_KEYS order (`key-<n>` is the n-th). */
  tags: readonly string[];
  knownTags: ReadonlySet<string>;
}

/** Secrets still accepted besides the one that signs: one replaced by the fleet's, once. */
const RETIRED_SECRETS_KEPT = 2;

export class LinkSigner {
  /** The first signs; every one verifies. */
  private secrets: SigningSecret[];

  /** Without a secret, a random one: links then die with the process (the server warns). */
  constructor(
    secret: string | Buffer | undefined,
    private readonly clientKeys: readonly string[],
  ) {
    this.secrets = [this.withTags(secret === undefined ? randomBytes(32) : Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8'))];
  }

  /**
   * Signs with `secret` from now on (the fleet's, once Redis gave it), still accepting the
   * links signed with the one it replaces until they expire.
   */
  adopt(secret: Buffer): void {
    const known = this.secrets.find((candidate) => candidate.secret.equals(secret));
    const others = this.secrets.filter((candidate) => candidate !== known);
    this.secrets = [known ?? this.withTags(secret), ...others].slice(0, 1 + RETIRED_SECRETS_KEPT);
  }

  /** The tag of the key with this id (`key-<n>`), as tokens minted with it now carry it. */
  tagFor(keyId: string): string | undefined {
    return this.signing.tags[Number(keyId.slice('key-'.length)) - 1];
  }

  /** A token for `taskId` valid for `ttlSeconds`, minted with the key `keyId` (undefined: open gateway). */
  mint(taskId: string, ttlSeconds: number, keyId: string | undefined, nowMs = Date.now()): MintedLink {
    const expires = String(Math.floor(nowMs / 1000) + ttlSeconds);
    const tag = keyId === undefined ? OPEN_TAG : (this.tagFor(keyId) ?? OPEN_TAG);
    const signature = sign(this.signing.secret, taskId, expires, tag).toString('base64url');
    return { token: `${expires}.${tag}.${signature}`, expiresAtMs: Number(expires) * 1000 };
  }

  /** Does this token authorize requests about `taskId` now? Constant-time on the signature. */
  verify(token: string, taskId: string, nowMs = Date.now()): boolean {
    const match = TOKEN.exec(token);
    if (match === null) return false;
    const [, expires, tag, signature] = match as unknown as [string, string, string, string];
    if (Number(expires) * 1000 <= nowMs) return false;
    // A link lives only as long as the gateway stays open, or as the key that minted it.
    if (tag === OPEN_TAG && this.clientKeys.length > 0) return false;
    const given = Buffer.from(signature, 'base64url');
    return this.secrets.some((known) => {
      if (tag !== OPEN_TAG && !known.knownTags.has(tag)) return false;
      const expected = sign(known.secret, taskId, expires, tag);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  }

  private get signing(): SigningSecret {
    return this.secrets[0]!;
  }

  private withTags(secret: Buffer): SigningSecret {
    const tags = this.clientKeys.map((key) => keyTag(secret, key));
    return { secret, tags, knownTags: new Set(tags) };
  }
}

/** `expires` as written in the token: its one canonical spelling is what is signed. */
function sign(secret: Buffer, taskId: string, expires: string, tag: string): Buffer {
  return createHmac('sha256', secret).update(`taskgate-link-v2\n${taskId}\n${expires}\n${tag}`).digest();
}

export interface LinkSignerOptions {
  /** TASKGATE_LINK_SECRET. */
  secret: string | undefined;
  clientKeys: readonly string[];
  /** In fleet mode, where the replicas' shared secret is kept. */
  store: Pick<TaskStore, 'shared' | 'sharedSecret'>;
  log: Pick<FastifyBaseLogger, 'warn' | 'info' | 'error'>;
  /** How often to ask Redis again while it has not given the fleet's secret. */
  retryMs?: number;
}

const FLEET_SECRET_NAME = 'link';
const RETRY_MS = 5000;
/** The fleet's secret is read again this often: it renews its life in Redis, and a lost one is replaced. */
const RENEW_MS = 60 * 60 * 1000;

/**
 * The link signer of this process and how its secret was chosen: TASKGATE_LINK_SECRET;
 * else, in fleet mode, one random secret kept in Redis and shared by every replica (so
 * links work across replicas with no setting); else a random one of this process. A
 * replica that starts while Redis is unavailable signs with its own until Redis answers.
 */
export async function startLinkSigner(options: LinkSignerOptions): Promise<{ signer: LinkSigner; stop: () => void }> {
  const { secret, clientKeys, store, log } = options;
  if (secret !== undefined) return { signer: new LinkSigner(secret, clientKeys), stop: () => {} };
  if (!store.shared) {
    log.warn('TASKGATE_LINK_SECRET is not set: browser links are signed with a random secret of this process and stop working when it restarts');
    return { signer: new LinkSigner(undefined, clientKeys), stop: () => {} };
  }
  const shared = await store.sharedSecret(FLEET_SECRET_NAME);
  const signer = new LinkSigner(shared, clientKeys);
  if (shared === undefined) log.warn('TASKGATE_LINK_SECRET is not set and Redis is unavailable: browser links are signed with this replica\'s own random secret until Redis answers');
  else log.warn('TASKGATE_LINK_SECRET is not set: browser links are signed with a random secret kept in Redis and shared by every replica');
  let held = shared !== undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => background(refresh(), log, 'links: reading the shared link secret failed'), held ? RENEW_MS : (options.retryMs ?? RETRY_MS));
    timer.unref();
  };
  const refresh = async () => {
    try {
      const current = await store.sharedSecret(FLEET_SECRET_NAME);
      if (current !== undefined) {
        if (!held) log.info('browser links are now signed with the secret the replicas share in Redis');
        held = true;
        signer.adopt(current);
      }
    } finally {
      schedule();
    }
  };
  schedule();
  return {
    signer,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
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
