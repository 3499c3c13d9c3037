/**
 * Where the archive keeps bytes: one small interface, two implementations (a folder,
 * src/archive/file-store.ts, and S3-compatible object storage, src/archive/s3-store.ts),
 * run by one contract test suite. Keys are `/`-separated relative names; each store maps
 * them onto its own namespace (a folder, a bucket and prefix). Imports no implementation:
 * src/archive/open-store.ts picks one.
 */
import type { Readable } from 'node:stream';

/** Both ends inclusive, as in `Content-Range`. */
export interface StoredRange {
  first: number;
  last: number;
}

export interface ArchiveStore {
  /** Where it is, for the log (never a credential): `file:///var/lib/taskgate` or `s3://bucket/prefix/`. */
  readonly description: string;
  /**
   * Streams `body` into `key` (memory flat whatever its size); the object appears whole or
   * not at all. Rejects when the body fails, and then leaves nothing behind.
   */
  write(key: string, body: Readable, contentType: string): Promise<void>;
  /** A small object (a record) whole; undefined when there is none. */
  read(key: string): Promise<Buffer | undefined>;
  /** The object's bytes (only `range` of them when given: never a whole-object read for a range). */
  open(key: string, range?: StoredRange): Promise<Readable>;
  /** Keys under `prefix`, in ascending order (byte order of their UTF-8). */
  list(prefix: string): AsyncIterable<string>;
  /** Deletes these keys; a key that is not there is no error. */
  delete(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
