/**
 * The result archive's settings (TASKGATE_ARCHIVE, TASKGATE_CONFIG `archive`, and the
 * standard AWS variables of an S3 archive), beside what they configure; the settings
 * schema of src/settings/schema.ts takes them in as its `archive` entry.
 */
import { z } from 'zod';
import { durationMs, positiveNumber, wholeNumber } from '../settings/primitives.js';
import type { EnvSetting } from '../settings/primitives.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The longest retention a millisecond timestamp can still add up (not an arbitrary cap). */
const MAX_RETENTION_DAYS = Math.floor(Number.MAX_SAFE_INTEGER / DAY_MS);
/** About 1 s, 5 s, 30 s, 2 min, 10 min, 30 min: a file kept for an hour by its provider still gets six tries. */
export const DEFAULT_ARCHIVE_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000] as const;

/** Where the archive keeps its files: a folder, or a bucket (and a key prefix in it) of an S3-compatible store. */
export type ArchiveLocation = { kind: 'file'; directory: string } | { kind: 's3'; bucket: string; prefix: string };

/** S3 bucket names (and the looser ones of S3-compatible stores): letters, digits, dots, dashes, underscores. */
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

const location = z
  .string()
  .trim()
  .transform((text, context): ArchiveLocation => {
    if (text.startsWith('file:')) {
      const url = URL.canParse(text) ? new URL(text) : undefined;
      if (url === undefined || url.host !== '' || url.search !== '' || url.hash !== '' || !url.pathname.startsWith('/') || url.pathname === '/') {
        context.addIssue({ code: 'custom', message: 'a file archive is file:///absolute/dir (three slashes, an absolute folder other than /)' });
        return z.NEVER;
      }
      const directory = decodeURIComponent(url.pathname).replace(/\/+$/, '');
      if (directory.split('/').some((part) => part === '..' || part === '.')) {
        context.addIssue({ code: 'custom', message: 'the folder must not contain . or .. parts' });
        return z.NEVER;
      }
      return { kind: 'file', directory };
    }
    const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
    if (match !== null && BUCKET.test(match[1]!)) {
      const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
      if (!/^[\x21-\x7e]*$/.test(prefix)) {
        context.addIssue({ code: 'custom', message: 'the key prefix must be printable ASCII without spaces' });
        return z.NEVER;
      }
      return { kind: 's3', bucket: match[1]!, prefix: prefix === '' ? '' : `${prefix}/` };
    }
    context.addIssue({ code: 'custom', message: 'must be file:///absolute/dir or s3://bucket[/prefix]' });
    return z.NEVER;
  });

const oneLine = z.string().regex(/^[^\r\n]+$/, 'must be one line');

/** The standard AWS variables, as the S3 client is given them (nothing else reads them). */
const s3Settings = z
  .object({
    accessKeyId: oneLine.optional(),
    /** Redacted wherever the gateway logs (src/server.ts) or answers (src/redact.ts). */
    secretAccessKey: oneLine.optional(),
    sessionToken: oneLine.optional(),
    region: oneLine.optional(),
    /** AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL: an S3-compatible store (MinIO, R2, OSS, Ceph…). */
    endpoint: z.string().trim().optional(),
  })
  .strict();

export const archiveSettingsSchema = z
  .object({
    /** TASKGATE_ARCHIVE; unset: the archive is off. */
    url: location.optional(),
    /** Days an archived task and its files are kept after they were stored; 0: for good. */
    retentionDays: wholeNumber.max(MAX_RETENTION_DAYS).default(30),
    /** A larger file is not archived (said in the log and the metrics). */
    maxFileBytes: positiveNumber.default(2 * 1024 ** 3),
    /** Files copied at once by this replica. */
    concurrency: positiveNumber.default(4),
    /** Path-style addressing (`{endpoint}/{bucket}/{key}`), which MinIO-style stores need. */
    forcePathStyle: z.boolean().default(false),
    /** How often one replica deletes what is past its retention. */
    sweepIntervalMs: durationMs.default(60 * 60 * 1000),
    /** How long a replica that died mid-copy keeps the task from the others (renewed while it copies). */
    leaseMs: durationMs.min(1000).default(15_000),
    /** Delay before each new try of a copy that failed (jittered); past the last, the file is given up. */
    retryDelaysMs: z.array(durationMs).min(1).default(() => [...DEFAULT_ARCHIVE_RETRY_DELAYS_MS]),
    s3: s3Settings.prefault({}),
  })
  .strict()
  .superRefine((archive, context) => {
    const { s3 } = archive;
    const keyPair = [
      { present: s3.accessKeyId !== undefined, setting: 'accessKeyId', variable: 'AWS_ACCESS_KEY_ID' },
      { present: s3.secretAccessKey !== undefined, setting: 'secretAccessKey', variable: 'AWS_SECRET_ACCESS_KEY' },
    ];
    const given = keyPair.filter((key) => key.present);
    for (const key of keyPair) {
      if (given.length === 1 && !key.present) {
        context.addIssue({ code: 'custom', path: ['s3', key.setting], params: { variable: key.variable }, message: `is required with ${given[0]!.variable}` });
      }
    }
    if (s3.sessionToken !== undefined && given.length === 0) {
      context.addIssue({ code: 'custom', path: ['s3', 'sessionToken'], message: 'needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY' });
    }
    // Only an S3 archive uses the endpoint: another tool's AWS_ENDPOINT_URL must not stop a gateway without one.
    if (archive.url?.kind === 's3' && s3.endpoint !== undefined) {
      const endpoint = URL.canParse(s3.endpoint) ? new URL(s3.endpoint) : undefined;
      if (endpoint === undefined || !/^https?:$/.test(endpoint.protocol) || endpoint.username !== '' || endpoint.password !== '') {
        context.addIssue({ code: 'custom', path: ['s3', 'endpoint'], message: 'must be an http(s) URL without user:password@' });
      }
    }
  })
  .prefault({});

export type ArchiveSettings = z.output<typeof archiveSettingsSchema>;

/**
 * The environment variables of the archive. Both endpoint variables set one setting, the
 * S3-specific one last so it wins, as in the AWS SDKs.
 */
export const ARCHIVE_ENV_SETTINGS: readonly EnvSetting[] = [
  { variable: 'TASKGATE_ARCHIVE', path: ['archive', 'url'], kind: 'text' },
  { variable: 'AWS_ACCESS_KEY_ID', path: ['archive', 's3', 'accessKeyId'], kind: 'text' },
  { variable: 'AWS_SECRET_ACCESS_KEY', path: ['archive', 's3', 'secretAccessKey'], kind: 'text' },
  { variable: 'AWS_SESSION_TOKEN', path: ['archive', 's3', 'sessionToken'], kind: 'text' },
  { variable: 'AWS_REGION', path: ['archive', 's3', 'region'], kind: 'text' },
  { variable: 'AWS_ENDPOINT_URL', path: ['archive', 's3', 'endpoint'], kind: 'text' },
  { variable: 'AWS_ENDPOINT_URL_S3', path: ['archive', 's3', 'endpoint'], kind: 'text' },
];

/** Milliseconds an archived task is kept; undefined: for good. */
export function retentionMs(settings: Pick<ArchiveSettings, 'retentionDays'>): number | undefined {
  return settings.retentionDays === 0 ? undefined : settings.retentionDays * DAY_MS;
}
