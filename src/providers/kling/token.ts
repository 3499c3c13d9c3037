/**
 * Kling's API token: a JWT signed HS256 with the secret key, `{iss: access key, exp: now +
 * 1800 s, nbf: now - 5 s}` (docs/providers/kling.md, "Auth"). A few lines of node:crypto,
 * no library. The cache reuses a token while it has more than five minutes left.
 */
import { createHmac } from 'node:crypto';

/** How long a minted token is valid, in seconds. */
export const TOKEN_LIFETIME_SECONDS = 1800;
/** `nbf` lies this far in the past, so a server whose clock is a little behind accepts it. */
export const NOT_BEFORE_LEEWAY_SECONDS = 5;
/** A token with this little left is not reused: one minted anew cannot expire mid-lookup. */
export const REUSE_MARGIN_SECONDS = 300;

const JWT_HEADER = { alg: 'HS256', typ: 'JWT' } as const;

export interface KlingKeys {
  accessKey: string;
  secretKey: string;
}

export interface JwtClaims {
  iss: string;
  exp: number;
  nbf: number;
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The HS256 signature of `header.payload`, base64url, as the JWT's third part. */
export function signJwtInput(signingInput: string, secretKey: string): string {
  return createHmac('sha256', secretKey).update(signingInput).digest('base64url');
}

/** The claims a token minted at `nowSeconds` carries. */
export function claimsAt(accessKey: string, nowSeconds: number): JwtClaims {
  return { iss: accessKey, exp: nowSeconds + TOKEN_LIFETIME_SECONDS, nbf: nowSeconds - NOT_BEFORE_LEEWAY_SECONDS };
}

export function mintJwt(keys: KlingKeys, nowSeconds: number): string {
  const signingInput = `${base64UrlJson(JWT_HEADER)}.${base64UrlJson(claimsAt(keys.accessKey, nowSeconds))}`;
  return `${signingInput}.${signJwtInput(signingInput, keys.secretKey)}`;
}

/**
 * One connection's token: minted on first use, reused while it has more than
 * REUSE_MARGIN_SECONDS left, minted anew after that or once `forget` was called (Kling said
 * it expired). Every minted token is handed to `onMint` (the gateway's redaction).
 */
export class TokenCache {
  private token: string | undefined;
  private mintedAtSeconds = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly keys: KlingKeys,
    private readonly nowMs: () => number,
    private readonly onMint: (token: string) => void,
  ) {}

  current(): string {
    const nowSeconds = Math.floor(this.nowMs() / 1000);
    if (this.token !== undefined && this.mintedAtSeconds + TOKEN_LIFETIME_SECONDS - nowSeconds > REUSE_MARGIN_SECONDS) return this.token;
    // The same claims make the same token: one replacing a token refused within its own
    // second is stamped a second later, as long as its `nbf` stays in the past.
    const next = this.mintedAtSeconds + 1;
    const stampSeconds = next > nowSeconds && next - nowSeconds < NOT_BEFORE_LEEWAY_SECONDS ? next : nowSeconds;
    const token = mintJwt(this.keys, stampSeconds);
    this.onMint(token);
    this.token = token;
    this.mintedAtSeconds = stampSeconds;
    return token;
  }

  /** The next request gets a new token. Minting is local and cheap: no coordination needed. */
  forget(): void {
    this.token = undefined;
  }
}
