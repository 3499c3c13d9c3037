/**
 * The archive in a folder (`TASKGATE_ARCHIVE=file:///absolute/dir`): one file per key. A
 * file is written under a temporary name and renamed into place, so a reader (or another
 * replica on a shared volume) sees it whole or not at all.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveStore, StoredRange } from './store.js';

/** Files being written: skipped by list(), and never taken for an object. */
const PARTIAL = '.partial-';

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class FileArchiveStore implements ArchiveStore {
  readonly description: string;

  private constructor(private readonly directory: string) {
    this.description = `file://${directory}`;
  }

  /** The folder is made if it is not there; one that cannot be made stops the boot. */
  static async open(directory: string): Promise<FileArchiveStore> {
    await mkdir(directory, { recursive: true });
    return new FileArchiveStore(directory);
  }

  async write(key: string, body: Readable, _contentType: string): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}${PARTIAL}${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(body, createWriteStream(partial));
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of createReadStream(this.pathOf(key))) chunks.push(chunk as Buffer);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    return Buffer.concat(chunks);
  }

  async open(key: string, range?: StoredRange): Promise<Readable> {
    // Opened first, so a missing file is a rejection here rather than an error on the stream.
    const handle = await open(this.pathOf(key), 'r');
    return handle.createReadStream(range === undefined ? {} : { start: range.first, end: range.last });
  }

  async *list(prefix: string): AsyncIterable<string> {
    // The folder holding the prefix's last part, then every key under it, depth first in sorted order.
    const slash = prefix.lastIndexOf('/');
    const base = prefix.slice(0, slash + 1);
    const keys = this.walk(base, prefix.slice(slash + 1));
    for await (const key of keys) yield key;
  }

  async delete(keys: readonly string[]): Promise<void> {
    const folders = new Set<string>();
    for (const key of keys) {
      const path = this.pathOf(key);
      await rm(path, { force: true });
      folders.add(dirname(path));
    }
    // A task's folder goes with its last file; a folder still holding something stays.
    for (const folder of folders) {
      for (let current = folder; current.startsWith(this.directory + sep); current = dirname(current)) {
        try {
          await rmdir(current);
        } catch {
          break;
        }
      }
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Keys are made by the archive from encoded parts (src/archive/keys.ts): never `..` or an absolute path. */
  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new Error(`not an archive key: ${key}`);
    return join(this.directory, ...key.split('/'));
  }

  private async *walk(base: string, startsWith: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(base === '' ? this.directory : join(this.directory, ...base.split('/').filter((part) => part !== '')), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const names = entries
      .filter((entry) => entry.name.startsWith(startsWith) && !entry.name.includes(PARTIAL))
      .map((entry) => ({ name: entry.name, folder: entry.isDirectory() }))
      // Sorted as the keys themselves would be (a folder's keys go on with `/`), like an S3 listing.
      .sort((left, right) => Buffer.compare(Buffer.from(left.folder ? `${left.name}/` : left.name), Buffer.from(right.folder ? `${right.name}/` : right.name)));
    for (const entry of names) {
      if (entry.folder) yield* this.walk(`${base}${entry.name}/`, '');
      else yield `${base}${entry.name}`;
    }
  }
}
