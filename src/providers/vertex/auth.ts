/**
 * Vertex's credentials: a service-account key file, and the OAuth 2.0 access token its
 * `token_uri` issues for a JWT signed with the key (the JWT bearer grant, RFC 7523). Done
 * with node:crypto: Google's Node auth library sends the grant to its own fixed token URL,
 * not to the key file's `token_uri` (docs/providers/vertex.md, "Auth").
 */
import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../../errors.js';
import { classifyHttpError, isSuccessStatus, tryParseJson } from '../http.js';
import type { UpstreamCall } from '../types.js';
import { VERTEX_NAME } from './map.js';
import { ServiceAccountSchema, TokenAnswerSchema } from './schema.js';
import { ConfigError } from '../../settings/errors.js';

export const CREDENTIALS_VARIABLE = 'GOOGLE_APPLICATION_CREDENTIALS';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Google accepts assertions valid for at most an hour. */
const ASSERTION_LIFETIME_SECONDS = 3600;
/** A token is replaced this long before it expires, so none expires on its way upstream. */
export const REFRESH_MARGIN_MS = 60_000;
/** Google's tokens live an hour; an answer without `expires_in` is taken to say so. */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

/** A key file that cannot be used: a configuration error, named by its variable (the boot stops with it). */
export class ServiceAccountFileError extends ConfigError {
  override name = 'ServiceAccountFileError';
}

export interface ServiceAccount {
  clientEmail: string;
  privateKey: KeyObject;
  /** The PEM text as the file holds it: a secret to redact. */
  privateKeyPem: string;
  keyId: string | undefined;
  tokenUri: string;
  /** The project billed for the calls (`x-goog-user-project`): `quota_project_id`, else `project_id`. */
  quotaProject: string;
}

function unusable(message: string): ServiceAccountFileError {
  return new ServiceAccountFileError(`${CREDENTIALS_VARIABLE}: ${message}`);
}

/** The key file at `file`, checked; every problem is a ServiceAccountFileError that names the file and never the key. */
export function readServiceAccount(file: string): ServiceAccount {
  const where = `the service-account file ${JSON.stringify(file)}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw unusable(`cannot read ${where} (${(error as NodeJS.ErrnoException).code ?? 'error'}); it takes the path of a service-account JSON key`);
  }
  const parsed = ServiceAccountSchema.safeParse(tryParseJson(text));
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? 'the JSON itself')))];
    throw unusable(`${where} is not a service-account JSON key (${fields.join(', ')}: missing or invalid; it needs type "service_account", project_id, client_email and private_key)`);
  }
  const account = parsed.data;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(account.private_key);
  } catch {
    throw unusable(`the private_key of ${where} is not a PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw unusable(`the private_key of ${where} is not an RSA key`);
  return {
    clientEmail: account.client_email,
    privateKey,
    privateKeyPem: account.private_key,
    keyId: account.private_key_id ?? undefined,
    tokenUri: account.token_uri ?? GOOGLE_TOKEN_URI,
    quotaProject: account.quota_project_id ?? account.project_id,
  };
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The grant's assertion: an RS256 JWT from the service account to its token endpoint, for the cloud-platform scope. */
export function signAssertion(account: ServiceAccount, issuedAtSeconds: number): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(account.keyId === undefined ? {} : { kid: account.keyId }) };
  const claims = {
    iss: account.clientEmail,
    scope: CLOUD_PLATFORM_SCOPE,
    aud: account.tokenUri,
    iat: issuedAtSeconds,
    exp: issuedAtSeconds + ASSERTION_LIFETIME_SECONDS,
  };
  const signingInput = `${base64url(header)}.${base64url(claims)}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(account.privateKey, 'base64url');
  return `${signingInput}.${signature}`;
}

interface CachedToken {
  token: string;
  /** Epoch ms after which the token is replaced. */
  refreshAtMs: number;
}

/**
 * The access token: fetched at the first request that needs one, then reused until a
 * minute before it expires; concurrent requests share one fetch. Every token and
 * assertion is handed to `addSecret` before it is used.
 */
export class TokenSource {
  private current: CachedToken | undefined;
  private pending: Promise<string> | undefined;
  private readonly template: string;

  constructor(
    private readonly account: ServiceAccount,
    private readonly addSecret: (secret: string) => void,
  ) {
    this.template = new URL(account.tokenUri).pathname;
  }

  token(call: UpstreamCall): Promise<string> {
    const cached = this.current;
    if (cached !== undefined && Date.now() < cached.refreshAtMs) return Promise.resolve(cached.token);
    this.pending ??= this.fetch(call).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Drops the cached token (the provider refused it): the next request fetches a new one. */
  forget(): void {
    this.current = undefined;
  }

  private async fetch(call: UpstreamCall): Promise<string> {
    const askedAtMs = Date.now();
    const assertion = signAssertion(this.account, Math.floor(askedAtMs / 1000));
    this.addSecret(assertion);
    const response = await call.request({
      method: 'POST',
      path: this.account.tokenUri,
      template: this.template,
      form: { grant_type: JWT_BEARER_GRANT, assertion },
      auth: false,
    });
    if (!isSuccessStatus(response.statusCode)) throw refusal(response);
    const parsed = TokenAnswerSchema.safeParse(tryParseJson(response.body));
    if (!parsed.success) {
      throw new GatewayError('upstream_invalid_response', {
        provider: VERTEX_NAME,
        cause: { statusCode: response.statusCode },
        detail: `${VERTEX_NAME}'s token endpoint answered without an access token`,
      });
    }
    const { access_token: token, expires_in: lifetimeSeconds } = parsed.data;
    this.addSecret(token);
    this.current = { token, refreshAtMs: askedAtMs + (lifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS) * 1000 - REFRESH_MARGIN_MS };
    return token;
  }
}

/** A token endpoint's 400 (`invalid_grant`, `invalid_scope`…) refuses the service account, as 401/403 do. */
function refusal(response: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: string }): GatewayError {
  if (response.statusCode === 400) {
    const error = (tryParseJson(response.body) as { error?: unknown } | undefined)?.error;
    return new GatewayError('upstream_auth_failed', {
      provider: VERTEX_NAME,
      cause: { statusCode: 400, error: typeof error === 'string' ? error : undefined },
      detail: `${VERTEX_NAME}'s token endpoint refused the service account's credentials (HTTP 400)`,
    });
  }
  return classifyHttpError(response, { provider: VERTEX_NAME, isNotFound: () => false });
}
