/**
 * `taskgate mcp`: the MCP tools (src/mcp/tools.ts) over stdio, for an agent host that
 * starts the command line as its server. The tools reach the gateway over HTTP like the
 * other commands (the same client, long-poll and download), and `download_result` saves
 * under `--dir` only. stdout carries MCP messages and nothing else; log lines go to stderr.
 * The process ends when the host closes stdin.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { LinkSet } from '../../schemas/links.js';
import type { Task } from '../../schemas/task.js';
import type { DownloadRequest, SavedFile, TaskBackend, ToolProblem, WaitOutcome, WaitRequest } from '../mcp/backend.js';
import { createToolServer } from '../mcp/tools.js';
import type { Invocation } from './arguments.js';
import { DEFAULT_GATEWAY_URL, type CliEnvironment } from './environment.js';
import { confinedFile, downloadFolder } from './confined-path.js';
import { Downloader } from './download.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { GatewayClient, parseGatewayUrl } from './gateway.js';
import type { TransferView, WaitView } from './progress.js';
import { waitForTask } from './wait.js';

export interface McpStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Fires on Ctrl-C. */
  interrupt: AbortSignal;
}

/** Nothing to draw: the host shows the tool's answer, not a progress bar. */
const SILENT_TRANSFER: TransferView = { start: () => {}, advance: () => {}, pause: () => {}, end: () => {} };

async function fileDigest(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** The tools' backend on the command line's side: the gateway's HTTP API. */
export class GatewayBackend implements TaskBackend {
  constructor(
    private readonly client: GatewayClient,
    /** Where downloads may go: a real path. */
    private readonly folder: string,
    private readonly log: (line: string) => void,
  ) {}

  async getTask(id: string, signal: AbortSignal): Promise<Task> {
    return (await this.client.getTask(id, { waitSeconds: 0, signal })).task;
  }

  /** `taskgate wait`'s long-poll; its timeout is an answer here (the latest state), not a failure. */
  async waitForTask({ id, timeoutMs, onChange, signal }: WaitRequest): Promise<WaitOutcome> {
    let latest: Task | undefined;
    const view: WaitView = {
      show: (task) => {
        latest = task;
        onChange(task);
      },
      retrying: (code, delayMs) => this.log(`${id}: ${code}; asking again in ${delayMs} ms`),
      end: () => {},
    };
    try {
      return { task: (await waitForTask(this.client, { id, timeoutMs }, view, signal)).task, finished: true };
    } catch (error) {
      if (error instanceof CliError && error.exitCode === EXIT.timeout && latest !== undefined) return { task: latest, finished: false };
      throw error;
    }
  }

  createLinks(id: string, ttlSeconds: number, signal: AbortSignal): Promise<LinkSet> {
    return this.client.createLinks(id, { ttlSeconds, signal });
  }

  /** `taskgate download` into a file inside the folder: resumed from its part file when one is there. */
  async download({ id, outputIndex, path, overwrite, signal }: DownloadRequest): Promise<SavedFile> {
    const file = await confinedFile(this.folder, path);
    if (!overwrite && (await lstat(file).catch(() => undefined)) !== undefined) {
      throw new CliError(EXIT.usage, 'file_exists', `${file} already exists; call again with overwrite: true to replace it`);
    }
    const saved = await new Downloader(this.client, { id, outputIndex, destination: file, force: overwrite }, SILENT_TRANSFER, signal).run();
    return { path: saved, ...(await fileDigest(saved)) };
  }

  problemOf(error: unknown): ToolProblem {
    if (error instanceof CliError) return { code: error.code, detail: error.detail };
    this.log(`a tool failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return { code: 'internal_error', detail: 'The tool failed unexpectedly; taskgate mcp logged why on its stderr.' };
  }
}

/** Serves the tools on stdin/stdout until the host closes stdin (exit 0) or Ctrl-C (exit 130). */
export async function serveMcp(
  invocation: Extract<Invocation, { command: 'mcp' }>,
  environment: CliEnvironment,
  streams: McpStreams,
  version: string,
): Promise<ExitCode> {
  const folder = await downloadFolder(invocation.dir ?? '.');
  const baseUrl = parseGatewayUrl(invocation.gateway ?? environment.gatewayUrl ?? DEFAULT_GATEWAY_URL);
  const client = new GatewayClient({ baseUrl, apiKey: environment.apiKey });
  const log = (line: string) => streams.stderr.write(`taskgate mcp: ${line}\n`);
  const server = createToolServer(new GatewayBackend(client, folder, log), { version });
  server.onerror = (error) => log(`MCP: ${error.message}`);
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  // Closing the server aborts the calls in progress (a wait, a download keeps its part file).
  const close = () => {
    server.close().catch((error: unknown) => log(`closing: ${String(error)}`));
  };
  streams.stdin.once('end', close);
  streams.interrupt.addEventListener('abort', close, { once: true });
  try {
    await server.connect(new StdioServerTransport(streams.stdin, streams.stdout));
    log(`serving ${client.displayUrl} over stdio; downloads are saved in ${folder}`);
    await closed;
  } finally {
    await client.close();
  }
  return streams.interrupt.aborted ? EXIT.interrupted : EXIT.ok;
}
