/**
 * The result files the simulators serve: the committed ones (made by
 * scripts/make-media.sh) and synthetic ones by name.
 *
 * Committed files are read from beside this module (`new URL(…, import.meta.url)`), on
 * first use, so importing this module costs nothing and works from the repo under tsx.
 * The simulators are dev tools: the production bundle (scripts/bundle.ts, entry
 * src/server.ts) never imports them, and `tsc` does not copy assets/ into dist/, so
 * loading them from a compiled dist/ copy would fail at the first loadAsset call.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Asset } from './serve.js';
import { parseSyntheticName, syntheticAsset } from './synthetic.js';

export const COMMITTED_ASSETS = {
  /** The primary video: VP9 + Opus, 4 s, 320x180, a keyframe every second. */
  'sample.webm': 'video/webm',
  /** The same clip as H.264 + AAC with +faststart (not every Chromium build plays it). */
  'sample.mp4': 'video/mp4',
  /** The frame at 2 s. */
  'thumbnail.webp': 'image/webp',
  'thumbnail.jpg': 'image/jpeg',
} as const;

export type CommittedAssetName = keyof typeof COMMITTED_ASSETS;

/**
 * When the committed files were made; fixed rather than the file's mtime (which a git
 * checkout sets to the checkout time), so Last-Modified and If-Range dates are stable.
 */
const COMMITTED_LAST_MODIFIED = new Date('2026-12-01T10:14:00Z');

export interface BufferAssetInit {
  name: string;
  contentType: string;
  bytes: Buffer;
  /** Default: the committed assets' date. Truncated to whole seconds. */
  lastModified?: Date;
}

/** An asset held in memory; its strong ETag is a digest of its bytes. */
export function bufferAsset(init: BufferAssetInit): Asset {
  const { bytes } = init;
  const lastModified = init.lastModified ?? COMMITTED_LAST_MODIFIED;
  return {
    name: init.name,
    contentType: init.contentType,
    size: bytes.length,
    etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`,
    lastModified: new Date(Math.floor(lastModified.getTime() / 1000) * 1000),
    bytes,
    // A subarray is a view: serving a range of a committed file copies nothing.
    chunks: (start, end) => [bytes.subarray(start, end)],
  };
}

const loaded = new Map<CommittedAssetName, Asset>();

export function isCommittedAssetName(name: string): name is CommittedAssetName {
  return Object.hasOwn(COMMITTED_ASSETS, name);
}

/** A committed file, read once and kept. */
export function loadAsset(name: CommittedAssetName): Asset {
  let asset = loaded.get(name);
  if (asset === undefined) {
    const bytes = readFileSync(new URL(`./assets/${name}`, import.meta.url));
    asset = bufferAsset({ name, contentType: COMMITTED_ASSETS[name], bytes });
    loaded.set(name, asset);
  }
  return asset;
}

/** A committed file or a `synthetic-<n>[k|m|g].bin` by name; undefined for any other name. */
export function findAsset(name: string): Asset | undefined {
  if (isCommittedAssetName(name)) return loadAsset(name);
  const syntheticSize = parseSyntheticName(name);
  return syntheticSize === undefined ? undefined : syntheticAsset(syntheticSize, name);
}
