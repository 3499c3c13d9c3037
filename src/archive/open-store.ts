/**
 * Picks the archive's store (src/archive/store.ts) from its settings, loading only the
 * implementation named: a gateway with a folder archive never loads the AWS SDK.
 */
import type { ArchiveLocation, ArchiveSettings } from './settings.js';
import type { ArchiveStore } from './store.js';

/** Opens the store the settings name; an S3 store loads the AWS SDK only then. */
export async function openArchiveStore(location: ArchiveLocation, settings: ArchiveSettings): Promise<ArchiveStore> {
  if (location.kind === 'file') {
    const { FileArchiveStore } = await import('./file-store.js');
    return FileArchiveStore.open(location.directory);
  }
  // Its own bundle in production (scripts/bundle.ts): a gateway without an S3 archive never parses the SDK.
  const { S3ArchiveStore } = await import('./s3-store.js');
  return new S3ArchiveStore(location, settings);
}
