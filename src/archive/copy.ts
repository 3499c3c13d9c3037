/**
 * One result file copied into the archive: streamed from where the provider keeps it
 * through the same ContentProxy as `/content` (address guard, key only to the provider's
 * own origin, redirects re-checked, header and idle deadlines), or, for inline media,
 * asked of the provider anew. The bytes pass a digesting stage on their way to the store:
 * sha256 and size are known when the store has the file, and memory stays flat.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ContentProxy } from '../content/proxy.js';
import { isAbsoluteHttpUrl } from '../providers/normalize.js';
import type { ProviderClient } from '../providers/client.js';
import type { StateOutput } from '../providers/types.js';
import type { StoredFile } from './record.js';
import type { ArchiveStore } from './store.js';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** A content type kept as the store's and served back: one short printable line. */
const CONTENT_TYPE = /^[\x20-\x7e]{1,200}$/;

export type CopyResult = { outcome: 'stored'; file: StoredFile } | { outcome: 'too_large'; bytes: number };

/** Counts and digests the bytes on their way to the store; past `maxBytes` it fails the copy. */
class DigestingStage extends Transform {
  bytes = 0;
  exceeded = false;
  private readonly digest = createHash('sha256');

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.exceeded = true;
      done(new Error(`the file is larger than archive.maxFileBytes (${this.maxBytes} bytes)`));
      return;
    }
    this.digest.update(chunk);
    done(null, chunk);
  }

  sha256(): string {
    return this.digest.digest('hex');
  }
}

export interface CopyRequest {
  store: ArchiveStore;
  content: ContentProxy;
  client: ProviderClient;
  nativeId: string;
  output: StateOutput;
  /** Where the file goes in the store. */
  key: string;
  maxBytes: number;
  /** Bytes copied so far, as they pass (for the metrics). */
  onBytes?: (bytes: number) => void;
  now: () => number;
  /** Aborted: the copy stops at once (the gateway is closing). */
  signal?: AbortSignal;
}

/** Copies one output; throws the content errors of `/content` (content_expired, content_blocked, upstream_*) or the store's. */
export async function copyOutput(request: CopyRequest): Promise<CopyResult> {
  const { output, client } = request;
  if (output.private === true && !isAbsoluteHttpUrl(output.url)) {
    const inline = await client.openInline(request.nativeId, output);
    if (inline.bytes.length > request.maxBytes) return { outcome: 'too_large', bytes: inline.bytes.length };
    return store(request, Readable.from([inline.bytes]), inline.contentType, 'inline');
  }
  const stage = new DigestingStage(request.maxBytes);
  // Failures reach the copy through the store's write; this keeps them from being unhandled.
  stage.on('error', () => {});
  const abort = () => stage.destroy(new Error('the copy was stopped: the gateway is closing'));
  request.signal?.addEventListener('abort', abort, { once: true });
  if (request.signal?.aborted === true) abort();
  try {
    const upstream = await request.content.open(client, output.url, { method: 'GET', range: undefined, ifRange: undefined, answer: stage });
    const declared = Number(upstream.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared > request.maxBytes) {
      upstream.body?.discard();
      return { outcome: 'too_large', bytes: declared };
    }
    if (upstream.statusCode !== 200 || upstream.body === null) throw new Error(`the result file answered HTTP ${upstream.statusCode} to a plain GET`);
    const written = store(request, stage, upstream.headers['content-type'], output.url, stage);
    upstream.body.sendTo(stage, () => {});
    const result = await written.catch((error: unknown) => {
      if (stage.exceeded) return { outcome: 'too_large' as const, bytes: stage.bytes };
      throw error;
    });
    if (result.outcome === 'stored' && Number.isSafeInteger(declared) && result.file.size !== declared) {
      await request.store.delete([request.key]);
      throw new Error(`the result file ended after ${result.file.size} of ${declared} bytes`);
    }
    return result;
  } finally {
    request.signal?.removeEventListener('abort', abort);
    // Whatever happened, the transfer from the provider ends with the copy.
    if (!stage.writableFinished) stage.destroy();
  }
}

async function store(request: CopyRequest, body: Readable, contentType: string | undefined, source: string, stage?: DigestingStage): Promise<CopyResult> {
  const digesting = stage ?? new DigestingStage(request.maxBytes);
  const type = contentType !== undefined && CONTENT_TYPE.test(contentType) ? contentType : DEFAULT_CONTENT_TYPE;
  let reported = 0;
  const report = () => {
    request.onBytes?.(digesting.bytes - reported);
    reported = digesting.bytes;
  };
  const timer = setInterval(report, 1000);
  timer.unref();
  try {
    await request.store.write(request.key, stage === undefined ? body.pipe(digesting) : digesting, type);
  } finally {
    clearInterval(timer);
    report();
  }
  return {
    outcome: 'stored',
    file: { outcome: 'stored', key: request.key, size: digesting.bytes, sha256: digesting.sha256(), contentType: type, source, storedAt: request.now() },
  };
}
