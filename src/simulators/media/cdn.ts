/**
 * A public "CDN" origin on loopback, like the signed storage URLs providers hand out:
 * `/<asset name>?expires=<unix seconds>&sig=<hmac>`. No key, but the link expires (403
 * with an S3-style XML error, as signed storage answers). Valid links are served by
 * serve.ts, ranges and all.
 *
 * Pacing knobs (`delay_ms`, `stall_after`, `stall_ms`) travel in the link and are covered
 * by its signature, so a simulated provider can hand the gateway a result URL that is
 * slow or stalls, and the gateway's header and idle timeouts can be tested.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { findAsset } from './assets.js';
import { headerText, serveAsset, type Asset, type ServePacing } from './serve.js';

export interface CdnOptions {
  /** Signs the links; default: random per CDN. */
  secret?: string | Buffer;
  /** Wall clock in epoch milliseconds (default Date.now); tests inject their own. */
  now?: () => number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Served besides the committed files and the synthetic names. */
  assets?: readonly Asset[];
}

export interface CdnRequest {
  readonly name: string;
  readonly method: string;
  /** The request's `Range` header, as received. */
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  /** The names of the request's headers (lower case): what a client sent a public file origin (no credentials, say). */
  readonly headerNames: readonly string[];
  /** Undefined until the status is decided (e.g. during a headers delay). */
  status: number | undefined;
  bytesSent: number;
  /** The most body bytes queued in the answer at once (see ServeOutcome). */
  peakQueuedBytes: number;
  /** `streaming` until the answer ended; `aborted` when the client left (or close() cut it) first. */
  state: 'streaming' | 'completed' | 'aborted';
}

export interface Cdn {
  /** Origin without a trailing slash, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  /** An absolute link to `assetName` valid for `ttlMs` from now (rounded down to a whole second). */
  signedUrl(assetName: string, ttlMs: number, pacing?: ServePacing): string;
  /** Requests received for that asset name, or in all; refused ones count. */
  hits(name?: string): number;
  /** Every request received for that name (or all), in arrival order. */
  requests(name?: string): readonly CdnRequest[];
  /** Answers still sending (a stalled or delayed one included). */
  activeTransfers(): number;
  /** Registers (or replaces) an asset under its name. */
  addAsset(asset: Asset): void;
  /** Forgets hits and request records. */
  reset(): void;
  /** Stops listening and destroys open connections, stalled transfers included. */
  close(): Promise<void>;
}

const ASSET_NAME = /^[A-Za-z0-9._-]{1,200}$/;
/** setTimeout's ceiling: a longer delay would fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const decimal = (maximum: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/)
    .transform(Number)
    .refine((value) => value <= maximum);

const signedQuerySchema = z.object({
  expires: decimal(Number.MAX_SAFE_INTEGER),
  sig: z.string(),
  delay_ms: decimal(MAX_TIMER_MS).optional(),
  stall_after: decimal(Number.MAX_SAFE_INTEGER).optional(),
  stall_ms: decimal(MAX_TIMER_MS).optional(),
});

type SignedQuery = z.infer<typeof signedQuerySchema>;

function xmlError(code: string, message: string, details: Record<string, string> = {}): string {
  const extra = Object.entries(details)
    .map(([key, value]) => `<${key}>${value}</${key}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}</Error>\n`;
}

function sendXml(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/** What the signature covers, in a fixed order (the query's order does not matter). */
function canonical(name: string, expires: number, pacing: ServePacing): string {
  return [name, expires, pacing.headersDelayMs ?? '', pacing.stallAfterBytes ?? '', pacing.stallMs ?? ''].join('\n');
}

function pacingOf(query: SignedQuery): ServePacing {
  const pacing: ServePacing = {};
  if (query.delay_ms !== undefined) pacing.headersDelayMs = query.delay_ms;
  if (query.stall_after !== undefined) pacing.stallAfterBytes = query.stall_after;
  if (query.stall_ms !== undefined) pacing.stallMs = query.stall_ms;
  return pacing;
}

function decodeName(encoded: string): string | undefined {
  try {
    const name = decodeURIComponent(encoded);
    return ASSET_NAME.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

class CdnServer implements Cdn {
  private origin = '';
  private readonly server: Server;
  private readonly secret: Buffer;
  private readonly now: () => number;
  private readonly extraAssets = new Map<string, Asset>();
  /** Synthetic and committed assets, resolved once per name. */
  private readonly resolved = new Map<string, Asset | null>();
  private records: CdnRequest[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly options: CdnOptions) {
    this.secret = options.secret === undefined ? randomBytes(32) : Buffer.from(options.secret);
    this.now = options.now ?? Date.now;
    for (const asset of options.assets ?? []) this.addAsset(asset);
    this.server = createServer((request, response) => {
      this.handleRequest(request, response).catch(() => response.destroy());
    });
  }

  get url(): string {
    return this.origin;
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const reachableHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    this.origin = `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`;
  }

  signedUrl(assetName: string, ttlMs: number, pacing: ServePacing = {}): string {
    if (!ASSET_NAME.test(assetName)) throw new Error(`not a valid asset name: ${JSON.stringify(assetName)}`);
    const expires = Math.floor((this.now() + ttlMs) / 1000);
    const query = new URLSearchParams({ expires: String(expires) });
    if (pacing.headersDelayMs !== undefined) query.set('delay_ms', String(pacing.headersDelayMs));
    if (pacing.stallAfterBytes !== undefined) query.set('stall_after', String(pacing.stallAfterBytes));
    if (pacing.stallMs !== undefined) query.set('stall_ms', String(pacing.stallMs));
    query.set('sig', this.sign(canonical(assetName, expires, pacing)));
    return `${this.origin}/${assetName}?${query.toString()}`;
  }

  hits(name?: string): number {
    return name === undefined ? this.records.length : this.records.filter((record) => record.name === name).length;
  }

  requests(name?: string): readonly CdnRequest[] {
    return name === undefined ? [...this.records] : this.records.filter((record) => record.name === name);
  }

  activeTransfers(): number {
    return this.records.filter((record) => record.state === 'streaming').length;
  }

  addAsset(asset: Asset): void {
    this.extraAssets.set(asset.name, asset);
  }

  reset(): void {
    this.records = [];
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // Stalled transfers would otherwise hold close() until their client gives up.
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private sign(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('hex');
  }

  private assetNamed(name: string): Asset | undefined {
    const extra = this.extraAssets.get(name);
    if (extra !== undefined) return extra;
    let asset = this.resolved.get(name);
    if (asset === undefined) {
      asset = findAsset(name) ?? null;
      this.resolved.set(name, asset);
    }
    return asset ?? undefined;
  }

  private async handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawUrl = request.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const encodedName = (queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt)).slice(1);
    const record: CdnRequest = {
      name: decodeName(encodedName) ?? encodedName,
      method: request.method ?? 'GET',
      range: request.headers.range,
      ifRange: headerText(request.headers['if-range']),
      headerNames: Object.keys(request.headers),
      status: undefined,
      bytesSent: 0,
      peakQueuedBytes: 0,
      state: 'streaming',
    };
    this.records.push(record);
    const refuse = (status: number, body: string): void => {
      record.status = status;
      record.state = 'completed';
      sendXml(response, status, body);
    };

    if (record.method !== 'GET' && record.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return refuse(405, xmlError('MethodNotAllowed', 'The specified method is not allowed against this resource.'));
    }
    const name = decodeName(encodedName);
    if (name === undefined) return refuse(404, xmlError('NoSuchKey', 'The specified key does not exist.'));
    const parsed = signedQuerySchema.safeParse(Object.fromEntries(new URLSearchParams(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1))));
    if (!parsed.success) {
      return refuse(403, xmlError('AccessDenied', 'Query-string authentication requires the expires and sig parameters'));
    }
    const pacing = pacingOf(parsed.data);
    const expected = Buffer.from(this.sign(canonical(name, parsed.data.expires, pacing)));
    const given = Buffer.from(parsed.data.sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return refuse(403, xmlError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'));
    }
    const now = this.now();
    if (now >= parsed.data.expires * 1000) {
      return refuse(
        403,
        xmlError('AccessDenied', 'Request has expired', {
          Expires: new Date(parsed.data.expires * 1000).toISOString(),
          ServerTime: new Date(now).toISOString(),
        }),
      );
    }
    const asset = this.assetNamed(name);
    if (asset === undefined) return refuse(404, xmlError('NoSuchKey', 'The specified key does not exist.', { Key: name }));

    const outcome = await serveAsset(request, response, asset, {
      ...pacing,
      onHeaders: (status) => {
        record.status = status;
      },
    });
    record.status = outcome.status;
    record.bytesSent = outcome.bytesSent;
    record.peakQueuedBytes = outcome.peakQueuedBytes;
    record.state = outcome.completed ? 'completed' : 'aborted';
  }
}

/** Starts a CDN origin listening on `host:port` (default 127.0.0.1, any free port). */
export async function startCdn(options: CdnOptions = {}): Promise<Cdn> {
  const cdn = new CdnServer(options);
  await cdn.listen();
  return cdn;
}
