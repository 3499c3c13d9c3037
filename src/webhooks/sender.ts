/**
 * One delivery attempt per Standard Webhooks (standardwebhooks.com): a signed POST with a
 * deadline, no redirects followed, through the same address guard as result files
 * (src/content/address-guard.ts): the target URL is checked before anything is sent and
 * every connection only reaches addresses the guard classified. The registration check
 * is the same policy, plus a look at what the host resolves to right now.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import {
  BlockedAddressError,
  canonicalHost,
  checkTargetUrl,
  classifyAddress,
  createGuardedAgent,
  isAllowedHost,
  isBlockedAddressError,
  resolveWithSystem,
  type AllowHost,
  type BlockReason,
  type ResolveHostname,
  type TargetUrlPolicy,
} from '../content/address-guard.js';

/**
 * Each webhook's own signing secret, and signatures made with it. The secret is derived
 * from the gateway's (TASKGATE_WEBHOOK_SECRET, `whsec_` + base64) and the webhook's id by
 * HMAC-SHA256, so every replica signs with the same one and nothing secret is stored; a
 * receiver holds only its own webhooks' secrets and so accepts no body signed for another.
 */
export class WebhookSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  }

  /** The webhook's secret as its receiver is given it: `whsec_` + base64 of 32 bytes. */
  secretOf(webhookId: string): string {
    return `whsec_${this.keyOf(webhookId).toString('base64')}`;
  }

  /** `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the webhook's secret (Standard Webhooks). */
  sign(webhookId: string, messageId: string, timestampSeconds: number, body: string): string {
    return `v1,${createHmac('sha256', this.keyOf(webhookId)).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64')}`;
  }

  private keyOf(webhookId: string): Buffer {
    // A label of its own, so the derived keys can never equal an HMAC the gateway makes for anything else.
    return createHmac('sha256', this.key).update(`taskgate webhook signing secret\0${webhookId}`).digest();
  }
}

export type AttemptOutcome = 'delivered' | 'failed' | 'gone' | 'timeout' | 'error' | 'blocked';

export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
}

export interface WebhookSenderOptions {
  signer: WebhookSigner;
  timeoutMs: number;
  allowHosts: readonly AllowHost[];
  resolveHostname?: ResolveHostname;
  userAgent: string;
  /** Connections per receiver origin: its deliveries in flight at most (webhooks.perTargetConcurrency). */
  connections: number;
}

/** Why a registration was refused, for the problem's detail. */
export class RefusedTargetError extends Error {
  override readonly name = 'RefusedTargetError';
}

/** Of a receiver's answer only the status matters; a bigger body is cut off. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Refusals an operator can lift for a receiver of their own, by listing it. */
const ALLOWABLE: ReadonlySet<BlockReason> = new Set<BlockReason>(['localhost', 'insecure_scheme', 'loopback', 'private', 'link_local', 'cgnat', 'reserved', 'documentation']);
const ALLOW_HINT = ' (a receiver of your own there is allowed once its host:port is in webhooks.allowHosts)';
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause === undefined ? undefined : errorCode(cause);
}

export class WebhookSender {
  private readonly dispatcher: Dispatcher;
  private readonly policy: TargetUrlPolicy;
  private readonly resolveHostname: ResolveHostname;

  constructor(private readonly options: WebhookSenderOptions) {
    this.policy = { allowHosts: options.allowHosts, allowPlainHttp: false };
    this.resolveHostname = options.resolveHostname ?? resolveWithSystem;
    this.dispatcher = createGuardedAgent({
      allowHosts: options.allowHosts,
      resolveHostname: options.resolveHostname,
      connect: { timeout: Math.min(options.timeoutMs, 10_000) },
      // As many as the dispatcher lets one receiver have in flight.
      agent: { connections: options.connections, keepAliveTimeout: 4000, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs },
    });
  }

  /**
   * At registration: the URL rules, and the addresses the host resolves to now. A host
   * that does not exist is refused; one whose lookup merely failed is accepted (each
   * delivery checks it again).
   */
  async checkTarget(url: string): Promise<URL> {
    let target: URL;
    try {
      target = checkTargetUrl(url, this.policy);
    } catch (error) {
      if (!isBlockedAddressError(error)) throw new RefusedTargetError('Refused target');
      throw new RefusedTargetError(ALLOWABLE.has(error.reason) ? `${error.message}${ALLOW_HINT}` : error.message);
    }
    const host = canonicalHost(target.hostname);
    const port = target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : Number(target.port);
    if (isIP(host) !== 0 || isAllowedHost(this.options.allowHosts, host, port)) return target;
    let addresses: readonly { address: string }[];
    try {
      addresses = await this.resolveHostname(host);
    } catch (error) {
      if (errorCode(error) === 'ENOTFOUND') throw new RefusedTargetError(`Refused ${host}: the host name does not resolve`);
      return target;
    }
    for (const { address } of addresses) {
      const verdict = classifyAddress(address);
      if (!verdict.allowed) throw new RefusedTargetError(`${new BlockedAddressError(verdict.reason, host, address).message}${ALLOW_HINT}`);
    }
    return target;
  }

  /** The webhook's signing secret, for its receiver (shown once, when it is registered). */
  secretOf(webhookId: string): string {
    return this.options.signer.secretOf(webhookId);
  }

  /** One attempt; never throws. */
  async send(message: { id: string; webhookId: string; url: string; body: string }, signal?: AbortSignal): Promise<AttemptResult> {
    try {
      checkTargetUrl(message.url, this.policy);
    } catch (error) {
      return { outcome: 'blocked', statusCode: null, error: isBlockedAddressError(error) ? error.message : 'Refused target' };
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const target = new URL(message.url);
      const response = await this.dispatcher.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.options.userAgent,
          'webhook-id': message.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': this.options.signer.sign(message.webhookId, message.id, timestamp, message.body),
        },
        body: message.body,
        signal: signal === undefined ? deadline : AbortSignal.any([deadline, signal]),
      });
      // Read (and drop) the answer so the connection can be reused; its content means nothing here.
      await response.body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => {});
      const statusCode = response.statusCode;
      if (statusCode >= 200 && statusCode < 300) return { outcome: 'delivered', statusCode, error: null };
      if (statusCode === 410) return { outcome: 'gone', statusCode, error: null };
      // redirects are not followed (the next hop could be anywhere); the attempt failed.
      return { outcome: 'failed', statusCode, error: REDIRECTS.has(statusCode) ? 'redirect not followed' : null };
    } catch (error) {
      if (isBlockedAddressError(error)) {
        const blocked = error instanceof BlockedAddressError ? error : (error as Error & { cause: BlockedAddressError }).cause;
        return { outcome: 'blocked', statusCode: null, error: blocked.message };
      }
      const code = errorCode(error);
      if (deadline.aborted || (code !== undefined && TIMEOUT_CODES.has(code))) {
        return { outcome: 'timeout', statusCode: null, error: `no answer within ${this.options.timeoutMs} ms` };
      }
      if (signal?.aborted === true) return { outcome: 'error', statusCode: null, error: 'interrupted: the gateway was shutting down' };
      return { outcome: 'error', statusCode: null, error: `connection failed${code === undefined ? '' : ` (${code})`}` };
    }
  }

  close(): Promise<void> {
    return this.dispatcher.destroy();
  }
}
