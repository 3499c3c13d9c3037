/**
 * A private S3-compatible store for tests: s3rver (test/helpers/s3rver-process.ts) in a
 * process of its own on a free loopback port, with its own folder and bucket, stopped and
 * removed when the test ends. It records every request it receives, so a test can assert
 * what reached the store (a ranged GET, how many uploads). Never a mock of the SDK.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface S3Request {
  method: string;
  /** Path and query, e.g. `/archive/tasks/vtrix/x/0?partNumber=1&uploadId=…`. */
  path: string;
  range: string | null;
}

export interface TestS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** s3rver's fixed credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment that points a gateway's archive at it (`TASKGATE_ARCHIVE`, the AWS variables), under `prefix`. */
  env(prefix?: string): Record<string, string>;
  /** Every request received so far, in arrival order. */
  requests(): readonly S3Request[];
  /** Whether a request like this arrives within `timeoutMs` (its line reaches this process a moment after it reached the store). */
  received(match: (request: S3Request) => boolean, timeoutMs?: number): Promise<boolean>;
  stop: () => Promise<void>;
}

type Closable = { after(fn: () => Promise<void> | void): void };

const PROCESS = fileURLToPath(new URL('./s3rver-process.ts', import.meta.url));
const START_TIMEOUT_MS = 15_000;

/** Starts s3rver with one bucket; stopped when the test (or the suite, for `t` of a `before`) ends. */
export async function startS3(t: Closable | undefined, options: { bucket?: string; quiet?: boolean } = {}): Promise<TestS3> {
  const bucket = options.bucket ?? 'archive';
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-s3-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', PROCESS, directory, bucket, ...(options.quiet === true ? ['--quiet'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const received: S3Request[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${stderr.trim() || 'no output'} (is it installed? npm ci)`)), START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}: ${stderr.trim() || 'no output'} (is it installed? npm ci)`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as { port?: number } & Partial<S3Request>;
      if (message.port !== undefined) {
        clearTimeout(timer);
        resolve(message.port);
      } else if (message.method !== undefined && message.path !== undefined) {
        received.push({ method: message.method, path: message.path, range: message.range ?? null });
      }
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  };
  t?.after(stop);
  return {
    endpoint,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    env: (prefix = '') => ({
      TASKGATE_ARCHIVE: `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: endpoint,
    }),
    requests: () => [...received],
    received: async (match, timeoutMs = 2000) => {
      const deadline = Date.now() + timeoutMs;
      while (!received.some(match)) {
        if (Date.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return true;
    },
    stop,
  };
}
