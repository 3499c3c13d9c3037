/**
 * The secrets this gateway holds never travel back out through upstream text. A provider
 * may echo what it was sent (our key in an error message, a status word, a URL); every
 * configured provider credential, client key and token the gateway minted is cut out of
 * what a provider answered before it can reach an answer, a log line or a metric label.
 */
import type { ProviderDefinition } from './providers/types.js';
import type { Config } from './settings/schema.js';

export const REDACTED = '[redacted]';

type Json = string | number | boolean | null | undefined | Json[] | { [key: string]: Json };

/** Tokens minted at run time that stay redacted; older ones have long expired. */
const MAX_LEARNED_SECRETS = 256;
/** Shorter text is too common to cut out of answers (and no credential is this short). */
const MIN_SECRET_LENGTH = 4;

/** One search for any of the secrets (a text is searched once, not once per secret). */
function anyOf(secrets: readonly string[]): RegExp | undefined {
  return secrets.length === 0 ? undefined : new RegExp(secrets.map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
}

export class SecretRedactor {
  /** Longest first, so a key that contains another is cut out whole. */
  private secrets: readonly string[];
  private anySecret: RegExp | undefined;
  private readonly configured: ReadonlySet<string>;
  /** Learned at run time (minted tokens, keys read from files), oldest first. */
  private readonly learned: string[] = [];

  constructor(secrets: Iterable<string | undefined>) {
    this.configured = new Set([...secrets].filter((secret): secret is string => secret !== undefined && secret !== ''));
    this.secrets = [...this.configured].sort((left, right) => right.length - left.length);
    this.anySecret = anyOf(this.secrets);
  }

  /** Every client key, every secret credential of every provider, and the S3 archive's secret key and session token. */
  static fromConfig(config: Config, providers: readonly ProviderDefinition[]): SecretRedactor {
    const credentials = providers.flatMap((definition) => {
      const values = config.providers[definition.name]?.credentials;
      return definition.credentials.filter((spec) => spec.secret).map((spec) => values?.[spec.setting]);
    });
    const { secretAccessKey, sessionToken } = config.archive.s3;
    return new SecretRedactor([...config.apiKeys, ...credentials, secretAccessKey, sessionToken]);
  }

  /** A secret learned at run time (a minted token): redacted from now on, like the configured ones. */
  add(secret: string): void {
    if (secret.length < MIN_SECRET_LENGTH || this.configured.has(secret) || this.learned.includes(secret)) return;
    this.learned.push(secret);
    if (this.learned.length > MAX_LEARNED_SECRETS) this.learned.shift();
    this.secrets = [...this.configured, ...this.learned].sort((left, right) => right.length - left.length);
    this.anySecret = anyOf(this.secrets);
  }

  /**
   * Could a value parsed from this text hold a key? Not when the text holds none and no
   * escape sequence (JSON's `\u0073…` could spell one): then walking the parse is no use.
   */
  mayHold(text: string): boolean {
    if (this.anySecret === undefined) return false;
    return text.includes('\\') || this.anySecret.test(text);
  }

  text(value: string): string {
    let text = value;
    for (const secret of this.secrets) if (text.includes(secret)) text = text.split(secret).join(REDACTED);
    return text;
  }

  /**
   * A copy of a parsed upstream value (a task state, an error body) with every string
   * redacted; the value itself when nothing in it holds a secret (the usual case).
   */
  value<T>(value: T): T {
    if (this.secrets.length === 0) return value;
    return this.walk(value as Json) as T;
  }

  private walk(value: Json): Json {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) {
      const items = value.map((item) => this.walk(item));
      return items.every((item, index) => item === value[index]) ? value : items;
    }
    if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return value;
    let copy: Record<string, Json> | undefined;
    for (const [key, item] of Object.entries(value)) {
      const redacted = this.walk(item);
      if (redacted !== item) (copy ??= { ...value })[key] = redacted;
    }
    return copy ?? value;
  }
}
