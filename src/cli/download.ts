/**
 * `taskgate download`: streams `GET /tasks/{id}/content` to a file. Bytes go to
 * `FILE.part` and become FILE only by a rename once complete, so FILE is never half a
 * file. Next to the part a small record (`FILE.part.json`) keeps the answer's validators
 * (ETag, else Last-Modified), so a later run asks only for the rest (`Range` + `If-Range`):
 * an unchanged file resumes (206), a changed one comes whole again (200).
 */
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError, EXIT } from './errors.js';
import { GatewayFailure, type ContentAnswer, type GatewayClient } from './gateway.js';
import type { TransferView } from './progress.js';
import { backoffDelay, pause } from './retry.js';

export interface DownloadOptions {
  id: string;
  /** `--output-index`: which of the task's outputs; undefined: the primary one. */
  outputIndex: number | undefined;
  /** `-o`: a file, or an existing directory for the default name; undefined: the current directory. */
  destination: string | undefined;
  force: boolean;
}

const PartRecordSchema = z.object({
  task: z.string(),
  output: z.number().int().nullable(),
  etag: z.string().nullable(),
  last_modified: z.string().nullable(),
});
type PartRecord = z.infer<typeof PartRecordSchema>;

interface PartialFile {
  size: number;
  record: PartRecord;
  /** What `If-Range` carries. */
  validator: string;
}

/** Consecutive attempts that bring no new byte before the download gives up. */
const MAX_FAILED_ATTEMPTS = 5;
/** Starting over from byte 0 more often than this means the answers make no sense. */
const MAX_RESTARTS = 3;

const EXTENSIONS: Record<string, string> = {
  'video/mp4': '.mp4',
  'video/webm': '.webm',
  'video/quicktime': '.mov',
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/webp': '.webp',
  'image/gif': '.gif',
  'audio/mpeg': '.mp3',
  'audio/wav': '.wav',
  'audio/ogg': '.ogg',
};

export function partPath(file: string): string {
  return `${file}.part`;
}

export function recordPath(file: string): string {
  return `${file}.part.json`;
}

/** A name from the answer, as a plain file name: no directory part, no leading dots, no controls. */
export function safeFileName(name: string): string | undefined {
  const base = (name.split(/[/\\]/).at(-1) ?? '').replace(/\p{Cc}/gu, '').trim().replace(/^\.+/, '');
  return base === '' ? undefined : base.slice(0, 200);
}

/** The file name of a `Content-Disposition` (RFC 6266): `filename*` (RFC 8187) first, then `filename`. */
export function dispositionFileName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const extended = /(?:^|;)\s*filename\*\s*=\s*"?([^;"]+)"?/i.exec(header)?.[1];
  if (extended !== undefined) {
    const [, , encoded] = /^([^']*)'[^']*'(.*)$/.exec(extended.trim()) ?? [];
    try {
      const name = encoded === undefined ? undefined : safeFileName(decodeURIComponent(encoded));
      if (name !== undefined) return name;
    } catch {
      // A malformed percent-encoding: fall back to the plain parameter.
    }
  }
  const plain = /(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)/i.exec(header)?.[1]?.trim();
  if (plain === undefined) return undefined;
  return safeFileName(plain.startsWith('"') ? plain.slice(1, -1).replace(/\\(.)/g, '$1') : plain);
}

function defaultFileName(headers: ContentAnswer['headers'], options: DownloadOptions): string {
  const named = dispositionFileName(headers['content-disposition']);
  if (named !== undefined) return named;
  const mediaType = headers['content-type']?.split(';')[0]?.trim().toLowerCase() ?? '';
  const base = safeFileName(options.id.replaceAll(':', '_')) ?? 'download';
  return `${base}${options.outputIndex === undefined ? '' : `-${options.outputIndex}`}${EXTENSIONS[mediaType] ?? ''}`;
}

async function pathKind(path: string): Promise<'file' | 'directory' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}

function fileFailure(path: string, error: unknown): CliError {
  const reason = (error as { code?: string }).code ?? (error as Error).message;
  return new CliError(EXIT.failed, 'write_failed', `cannot write ${path}: ${reason}`, { cause: error });
}

async function refuseToOverwrite(file: string, force: boolean): Promise<void> {
  if (force) return;
  if ((await pathKind(file)) !== 'missing') throw new CliError(EXIT.usage, 'file_exists', `${file} already exists; pass --force to replace it`);
}

/** If-Range needs a strong validator (RFC 9110 §13.1.5): a weak ETag cannot resume. */
function resumeValidator(record: Pick<PartRecord, 'etag' | 'last_modified'>): string | undefined {
  if (record.etag !== null && !record.etag.startsWith('W/')) return record.etag;
  return record.last_modified ?? undefined;
}

async function readPartial(file: string, options: DownloadOptions): Promise<PartialFile | undefined> {
  let record: PartRecord;
  let size: number;
  try {
    record = PartRecordSchema.parse(JSON.parse(await readFile(recordPath(file), 'utf8')));
    size = (await stat(partPath(file))).size;
  } catch {
    return undefined;
  }
  // A part of another task's (or another output's) file under the same name is not ours to continue.
  if (record.task !== options.id || record.output !== (options.outputIndex ?? null) || size === 0) return undefined;
  const validator = resumeValidator(record);
  return validator === undefined ? undefined : { size, record, validator };
}

async function discardPartial(file: string): Promise<void> {
  await rm(partPath(file), { force: true });
  await rm(recordPath(file), { force: true });
}

/** `Content-Range: bytes 100-199/1000` → start and total (undefined for `*`). */
function parseContentRange(header: string | undefined): { start: number; total: number | undefined } | undefined {
  const match = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? '');
  if (match === null) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

function unsatisfiedLength(header: string | undefined): number | undefined {
  const match = /^bytes\s+\*\/(\d+)$/i.exec(header?.trim() ?? '');
  return match === null ? undefined : Number(match[1]);
}

function contentLength(headers: ContentAnswer['headers']): number | undefined {
  const value = headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Stops an answer we will not read; undici reports the stop as an error nobody needs. */
function discard(answer: ContentAnswer): void {
  answer.body.on('error', () => {});
  answer.body.destroy();
}

function interrupted(file: string | undefined): CliError {
  const kept = file === undefined ? '' : `; the bytes so far are kept in ${partPath(file)}: run the same command again to resume`;
  return new CliError(EXIT.interrupted, 'interrupted', `download interrupted${kept}`);
}

export class Downloader {
  private failedAttempts = 0;
  private restarts = 0;

  constructor(
    private readonly client: GatewayClient,
    private readonly options: DownloadOptions,
    private readonly view: TransferView,
    private readonly signal: AbortSignal,
  ) {}

  /** Downloads and answers the final path. */
  async run(): Promise<string> {
    const { destination, force } = this.options;
    const destinationKind = destination === undefined ? 'directory' : await pathKind(destination);
    const directory = destinationKind === 'directory' ? (destination ?? '.') : undefined;
    let file = directory === undefined ? destination : undefined;
    if (file !== undefined) await refuseToOverwrite(file, force);

    for (;;) {
      if (this.signal.aborted) throw interrupted(file);
      const partial = file === undefined ? undefined : await readPartial(file, this.options);
      let answer: ContentAnswer;
      try {
        answer = await this.client.openContent(this.options.id, {
          outputIndex: this.options.outputIndex,
          headers: partial === undefined ? {} : { range: `bytes=${partial.size}-`, 'if-range': partial.validator },
          signal: this.signal,
        });
      } catch (error) {
        await this.retryOrThrow(error, file);
        continue;
      }

      if (file === undefined) {
        // The name comes with the first answer; a part under it may let us ask for the rest only.
        file = join(directory ?? '.', defaultFileName(answer.headers, this.options));
        const earlier = await this.afterNaming(answer, file);
        if (earlier === 'ask_again') continue;
      }

      const outcome = await this.receive(answer, file, partial);
      if (outcome === 'again') continue;
      await this.finish(file);
      return file;
    }
  }

  /** With the name known: refuse an existing file, or stop this answer to resume a part under that name. */
  private async afterNaming(answer: ContentAnswer, file: string): Promise<'ask_again' | 'go_on'> {
    try {
      await refuseToOverwrite(file, this.options.force);
    } catch (error) {
      discard(answer);
      throw error;
    }
    const earlier = await readPartial(file, this.options);
    if (earlier === undefined || answer.statusCode !== 200) return 'go_on';
    const sameFile = earlier.validator === answer.headers['etag'] || earlier.validator === answer.headers['last-modified'];
    if (!sameFile) return 'go_on';
    discard(answer);
    return 'ask_again';
  }

  /** Streams one answer into the part; 'again' when the loop must ask once more. */
  private async receive(answer: ContentAnswer, file: string, partial: PartialFile | undefined): Promise<'done' | 'again'> {
    if (answer.statusCode === 416) {
      discard(answer);
      // Asked for bytes past the end: the part may already be the whole file.
      const length = unsatisfiedLength(answer.headers['content-range']);
      if (partial !== undefined && length === partial.size) {
        this.view.start(file, partial.size, length);
        this.view.pause();
        return 'done';
      }
      await this.restart(file);
      return 'again';
    }
    let offset = 0;
    let total = contentLength(answer.headers);
    if (answer.statusCode === 206) {
      const range = parseContentRange(answer.headers['content-range']);
      if (range === undefined || partial === undefined || range.start !== partial.size) {
        discard(answer);
        await this.restart(file);
        return 'again';
      }
      offset = range.start;
      total = range.total;
    } else {
      // A 200 is the whole file: a fresh part, and the validators to resume it by later.
      const record: PartRecord = {
        task: this.options.id,
        output: this.options.outputIndex ?? null,
        etag: answer.headers['etag'] ?? null,
        last_modified: answer.headers['last-modified'] ?? null,
      };
      try {
        await writeFile(recordPath(file), `${JSON.stringify(record)}\n`);
      } catch (error) {
        discard(answer);
        throw fileFailure(recordPath(file), error);
      }
    }

    let handle;
    try {
      handle = await open(partPath(file), offset === 0 ? 'w' : 'a');
    } catch (error) {
      discard(answer);
      throw fileFailure(partPath(file), error);
    }
    this.view.start(file, offset, total);
    let written = offset;
    try {
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        try {
          await handle.write(chunk);
        } catch (error) {
          throw fileFailure(partPath(file), error);
        }
        written += chunk.length;
        this.view.advance(chunk.length);
      }
      if (total !== undefined && written < total) {
        throw new GatewayFailure(EXIT.unreachable, 'transfer_cut', `the transfer ended at ${written} of ${total} bytes`, { transient: true });
      }
      // On disk before the rename, so a crash never leaves a short file under the final name.
      await handle.sync().catch((error: unknown) => {
        throw fileFailure(partPath(file), error);
      });
    } catch (error) {
      discard(answer);
      this.view.pause();
      if (written > offset) this.failedAttempts = 0;
      await this.retryOrThrow(error instanceof CliError ? error : this.client.connectionFailure(error), file);
      return 'again';
    } finally {
      await handle.close();
    }
    this.view.pause();
    return 'done';
  }

  private async restart(file: string): Promise<void> {
    if (++this.restarts > MAX_RESTARTS) {
      throw new GatewayFailure(EXIT.problem, 'invalid_response', 'the gateway keeps answering ranges that do not fit the partial file', { transient: false });
    }
    await discardPartial(file);
  }

  /** A transient failure waits its backoff and lets the loop try again (resuming what is on disk). */
  private async retryOrThrow(error: unknown, file: string | undefined): Promise<void> {
    if (this.signal.aborted) throw interrupted(file);
    if (!(error instanceof GatewayFailure) || !error.retry.transient || error.retry.refused === true) throw error;
    if (++this.failedAttempts >= MAX_FAILED_ATTEMPTS) throw error;
    await pause(backoffDelay(this.failedAttempts - 1, error.retry.afterMs), this.signal);
    if (this.signal.aborted) throw interrupted(file);
  }

  private async finish(file: string): Promise<void> {
    // Checked again: the file may have appeared while the bytes came.
    await refuseToOverwrite(file, this.options.force);
    try {
      await rename(partPath(file), file);
      await rm(recordPath(file), { force: true });
    } catch (error) {
      throw fileFailure(file, error);
    }
    this.view.end(file);
  }
}
