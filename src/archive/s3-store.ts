/**
 * The archive in S3-compatible object storage (`TASKGATE_ARCHIVE=s3://bucket[/prefix]`)
 * through the AWS SDK v3: objects under the prefix, streamed multipart uploads
 * (@aws-sdk/lib-storage: memory bounded by its part size and queue, whatever the file's
 * size), ranged GETs for ranges. The credentials, region and endpoint come from the
 * settings (src/config.ts reads the standard AWS variables); with no keys given, the SDK's
 * own default chain finds them (a role, a profile, the instance's metadata).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import type { ArchiveSettings } from './settings.js';
import type { ArchiveStore, StoredRange } from './store.js';

/** The smallest part S3 takes; with two parts in flight an upload holds about 16 MiB, whatever the file. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;
/** Deletes sent at once (one request per key: DeleteObjects needs a checksum some S3-compatible stores refuse). */
const DELETES_AT_ONCE = 8;

function isNotFound(error: unknown): boolean {
  if (error instanceof NoSuchKey) return true;
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404;
}

export class S3ArchiveStore implements ArchiveStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(location: { bucket: string; prefix: string }, settings: Pick<ArchiveSettings, 's3' | 'forcePathStyle'>) {
    const { accessKeyId, secretAccessKey, sessionToken, region, endpoint } = settings.s3;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.description = `s3://${location.bucket}/${location.prefix}`;
    this.client = new S3Client({
      // S3-compatible stores mostly ignore the region, and S3 itself redirects to the bucket's own.
      region: region ?? 'us-east-1',
      followRegionRedirects: true,
      endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
      // Checksums only where the API requires them: many S3-compatible stores refuse the SDK's newer defaults.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async write(key: string, body: Readable, contentType: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentType: contentType },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return answer.Body === undefined ? Buffer.alloc(0) : Buffer.from(await answer.Body.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async open(key: string, range?: StoredRange): Promise<Readable> {
    const answer = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: range === undefined ? undefined : `bytes=${range.first}-${range.last}` }),
    );
    const body = answer.Body;
    if (body instanceof Readable) return body;
    return body === undefined ? Readable.from([]) : Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
  }

  async *list(prefix: string): AsyncIterable<string> {
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: continuationToken }),
      );
      for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object.Key.slice(this.prefix.length);
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETES_AT_ONCE) {
      await Promise.all(
        keys.slice(start, start + DELETES_AT_ONCE).map((key) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }))),
      );
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
