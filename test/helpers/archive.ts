/**
 * A gateway with the result archive on, for the archive tests: the simulators, a CDN
 * origin with signed expiring links (its clock the test's), the archive in a temporary
 * folder (or a given TASKGATE_ARCHIVE, e.g. a test s3rver's), and helpers to wait for a
 * task to be archived and to read a stored file's digest.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { parseAllowHosts } from '../../src/content/address-guard.js';
import type { Cdn } from '../../src/simulators/media/cdn.js';
import type { Config } from '../../src/settings/schema.js';
import { listen } from './http.js';
import { startStack, type Stack } from './stack.js';

type Closable = TestContext | { after(fn: () => Promise<void> | void): void };

export interface ArchiveStack extends Stack {
  base: string;
  /** The archive's folder (a folder store), removed when the test ends. */
  folder: string | undefined;
}

export interface ArchiveStackOptions {
  cdn: Cdn;
  /** Extra environment; a TASKGATE_ARCHIVE here replaces the temporary folder. */
  env?: Record<string, string>;
  /** TASKGATE_CONFIG `archive` settings. */
  archive?: Partial<Config['archive']>;
  configure?: (config: Config) => Config;
  archiveClock?: () => number;
}

export async function startArchiveStack(t: Closable, options: ArchiveStackOptions): Promise<ArchiveStack> {
  const folder = options.env?.['TASKGATE_ARCHIVE'] === undefined ? mkdtempSync(join(tmpdir(), 'taskgate-archive-')) : undefined;
  if (folder !== undefined) t.after(() => rmSync(folder, { recursive: true, force: true }));
  const stack = await startStack(t, {
    env: { ...(folder === undefined ? {} : { TASKGATE_ARCHIVE: `file://${folder}` }), ...options.env },
    configure: (config) => {
      const configured: Config = {
        ...config,
        content: { ...config.content, allowHosts: parseAllowHosts([new URL(options.cdn.url).host]) },
        archive: { ...config.archive, ...options.archive },
      };
      return options.configure?.(configured) ?? configured;
    },
    archiveClock: options.archiveClock,
  });
  return { ...stack, base: await listen(stack.app), folder };
}

export interface TaskAnswer {
  status: string;
  url: string | null;
  outputs: Array<{ type: string; url: string }>;
  content_url: string | null;
  expires_at: string | null;
  archived_at: string | null;
}

export async function getTask(base: string, id: string): Promise<{ statusCode: number; task: TaskAnswer }> {
  const response = await request(`${base}/tasks/${encodeURIComponent(id)}`);
  const text = await response.body.text();
  return { statusCode: response.statusCode, task: JSON.parse(text) as TaskAnswer };
}

/** Asks for the task until its `archived_at` is set (the copy runs in the background); the last answer. */
export async function waitArchived(base: string, id: string, timeoutMs = 15_000): Promise<TaskAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { statusCode, task } = await getTask(base, id);
    if (statusCode === 200 && task.archived_at !== null) return task;
    if (Date.now() > deadline) throw new Error(`${id} was not archived within ${timeoutMs} ms: ${JSON.stringify(task)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** GET a URL whole: status, headers and the body's bytes. */
export async function download(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const response = await request(url, { headers, method });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  return { statusCode: response.statusCode, headers: response.headers, bytes };
}

/** The value of one sample of a /metrics text, 0 when absent. */
export function sample(metrics: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
