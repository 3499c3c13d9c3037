/**
 * Generated assets of any size (benchmarks, memory and abort tests) whose bytes are a
 * pure function of the offset, so a test can check any range without storing the file.
 *
 * The file is a run of 64 KiB blocks. Every block is one shared pseudo-random template,
 * except its first 8 bytes: `T` `G` and the block's index as a 48-bit big-endian number.
 * The stamp is why: a purely periodic pattern would hide a range served from the wrong
 * block. Serving hands out the shared template without copying, plus a fresh 8-byte
 * stamp per block.
 */
import type { Asset } from './serve.js';

export const SYNTHETIC_BLOCK_SIZE = 64 * 1024;
const STAMP_SIZE = 8;
const STAMP_MAGIC = [0x54, 0x47];
const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const SYNTHETIC_NAME = /^synthetic-(\d{1,16})([kmg]?)\.bin$/;
/** Fixed, so validators agree across processes and replicas. */
const SYNTHETIC_LAST_MODIFIED = new Date('2026-01-01T00:00:00Z');

/** xorshift32 from a fixed seed: random-looking, with no short period a shifted range could hide in. */
function makeTemplate(): Buffer {
  const template = Buffer.alloc(SYNTHETIC_BLOCK_SIZE);
  let state = 0x9e3779b9;
  for (let position = STAMP_SIZE; position < SYNTHETIC_BLOCK_SIZE; position++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    template[position] = state & 0xff;
  }
  return template;
}

const TEMPLATE = makeTemplate();

function stampOf(blockIndex: number): Buffer {
  const stamp = Buffer.allocUnsafe(STAMP_SIZE);
  stamp[0] = STAMP_MAGIC[0] ?? 0;
  stamp[1] = STAMP_MAGIC[1] ?? 0;
  stamp.writeUIntBE(blockIndex, 2, 6);
  return stamp;
}

/** The byte at `offset` of every synthetic asset (they differ only in length). */
export function syntheticByteAt(offset: number): number {
  const position = offset % SYNTHETIC_BLOCK_SIZE;
  if (position >= STAMP_SIZE) return TEMPLATE[position] ?? 0;
  if (position < STAMP_MAGIC.length) return STAMP_MAGIC[position] ?? 0;
  const blockIndex = Math.floor(offset / SYNTHETIC_BLOCK_SIZE);
  return Math.floor(blockIndex / 256 ** (STAMP_SIZE - 1 - position)) % 256;
}

/** The bytes from `start` to `end` (exclusive) as one buffer; for tests of small ranges. */
export function syntheticBytes(start: number, end: number): Buffer {
  const bytes = Buffer.allocUnsafe(Math.max(0, end - start));
  for (let offset = start; offset < end; offset++) bytes[offset - start] = syntheticByteAt(offset);
  return bytes;
}

function* syntheticChunks(start: number, end: number): Generator<Buffer> {
  let offset = start;
  while (offset < end) {
    const blockIndex = Math.floor(offset / SYNTHETIC_BLOCK_SIZE);
    const blockStart = blockIndex * SYNTHETIC_BLOCK_SIZE;
    const from = offset - blockStart;
    const to = Math.min(SYNTHETIC_BLOCK_SIZE, end - blockStart);
    if (from < STAMP_SIZE) yield stampOf(blockIndex).subarray(from, Math.min(STAMP_SIZE, to));
    if (to > STAMP_SIZE) yield TEMPLATE.subarray(Math.max(from, STAMP_SIZE), to);
    offset = blockStart + to;
  }
}

/** The byte count a `synthetic-<n>[k|m|g].bin` name stands for (binary units), or undefined. */
export function parseSyntheticName(name: string): number | undefined {
  const match = SYNTHETIC_NAME.exec(name);
  if (match === null) return undefined;
  const size = Number(match[1]) * (UNITS[match[2] ?? ''] ?? 1);
  return Number.isSafeInteger(size) ? size : undefined;
}

/** A synthetic asset of `size` bytes; `name` defaults to `synthetic-<size>.bin`. */
export function syntheticAsset(size: number, name = `synthetic-${size}.bin`): Asset {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`synthetic asset size must be a non-negative safe integer, got ${size}`);
  return {
    name,
    contentType: 'application/octet-stream',
    size,
    // The bytes depend only on the offset, so the length (and the layout version) is the identity.
    etag: `"synthetic-v1-${size}"`,
    lastModified: SYNTHETIC_LAST_MODIFIED,
    chunks: syntheticChunks,
  };
}
