/**
 * How the archive names what it keeps (docs/archive.md "What is stored"):
 *
 *   tasks/<provider>/<task>/task.json   the finished task and what was stored of it
 *   tasks/<provider>/<task>/<N>         output N's bytes
 *   index/<stored at, ms, 13 digits>~<provider>~<task>
 *                                       an empty marker per task, listed in time order by the retention sweep
 *
 * `<task>` is the native id percent-encoded (dots too, so no part is `.` or `..`), or a
 * digest of it when that would make a name longer than file systems take.
 */
import { createHash } from 'node:crypto';

const MAX_READABLE_LENGTH = 160;

/** A native id as one name part: readable where it can be, a digest where it cannot. */
export function taskPart(nativeId: string): string {
  const encoded = encodeURIComponent(nativeId).replace(/\./g, '%2E').replace(/~/g, '%7E');
  return encoded.length <= MAX_READABLE_LENGTH ? encoded : `~${createHash('sha256').update(nativeId).digest('hex')}`;
}

export function taskFolder(provider: string, nativeId: string): string {
  return `tasks/${provider}/${taskPart(nativeId)}/`;
}

export function recordKey(provider: string, nativeId: string): string {
  return `${taskFolder(provider, nativeId)}task.json`;
}

export function fileKey(provider: string, nativeId: string, index: number): string {
  return `${taskFolder(provider, nativeId)}${index}`;
}

export const INDEX_PREFIX = 'index/';

export function indexKey(storedAt: number, provider: string, nativeId: string): string {
  return `${INDEX_PREFIX}${String(storedAt).padStart(13, '0')}~${provider}~${taskPart(nativeId)}`;
}

/** An index marker's parts; undefined for a name the archive did not make. */
export function parseIndexKey(key: string): { storedAt: number; folder: string } | undefined {
  const match = /^index\/(\d{13})~([a-z0-9_-]+)~([^/~][^/]*|~[0-9a-f]{64})$/.exec(key);
  if (match === null) return undefined;
  return { storedAt: Number(match[1]), folder: `tasks/${match[2]}/${match[3]}/` };
}
