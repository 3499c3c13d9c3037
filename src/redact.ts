/**
 * The keys this gateway holds never travel back out through upstream text. A provider may
 * echo what it was sent (our key in an error message, a status word, a URL); every
 * configured provider key and client key is cut out of what a provider answered before it
 * can reach an answer, a log line or a metric label.
 */
import type { Config } from './settings/schema.js';

export const REDACTED = '[redacted]';

type Json = string | number | boolean | null | undefined | Json[] | { [key: string]: Json };

export class SecretRedactor {
  /** Longest first, so a key that contains another is cut out whole. */
  private readonly secrets: readonly string[];

  constructor(secrets: Iterable<string | undefined>) {
    const unique = new Set([...secrets].filter((secret): secret is string => secret !== undefined && secret !== ''));
    this.secrets = [...unique].sort((left, right) => right.length - left.length);
  }

  /** Every provider key and client key of this configuration. */
  static fromConfig(config: Config): SecretRedactor {
    return new SecretRedactor([...config.apiKeys, ...Object.values(config.providers).map((provider) => provider.apiKey)]);
  }

  /**
   * Could a value parsed from this text hold a key? Not when the text holds none and no
   * escape sequence (JSON's `\u0073…` could spell one): then walking the parse is no use.
   */
  mayHold(text: string): boolean {
    if (this.secrets.length === 0) return false;
    if (text.includes('\\')) return true;
    for (const secret of this.secrets) if (text.includes(secret)) return true;
    return false;
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
