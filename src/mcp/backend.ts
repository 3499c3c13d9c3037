/**
 * What the MCP tools need from a gateway, whichever side of it they run on: the gateway's
 * own TaskService in process (`POST /mcp`), or the gateway's HTTP API from the command
 * line (`taskgate mcp`). The tools are written once against this.
 */
import type { LinkSet } from '../../schemas/links.js';
import type { Task } from '../../schemas/task.js';

/** A failed call as the tool answers it: the problem's stable `code` and its `detail`. */
export interface ToolProblem {
  code: string;
  detail: string;
}

export interface WaitOutcome {
  /** The task when the wait ended: terminal, or its latest state at the timeout. */
  task: Task;
  /** True when the task reached a terminal state; false when the timeout came first. */
  finished: boolean;
}

export interface WaitRequest {
  id: string;
  timeoutMs: number;
  /** Called with every state seen while waiting (the last one included). */
  onChange: (task: Task) => void;
  signal: AbortSignal;
}

export interface DownloadRequest {
  id: string;
  /** Undefined: the task's primary output. */
  outputIndex: number | undefined;
  /** Where to save, as the caller gave it; the backend decides what it may write. */
  path: string;
  overwrite: boolean;
  signal: AbortSignal;
}

export interface SavedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface TaskBackend {
  getTask(id: string, signal: AbortSignal): Promise<Task>;
  waitForTask(request: WaitRequest): Promise<WaitOutcome>;
  createLinks(id: string, ttlSeconds: number, signal: AbortSignal): Promise<LinkSet>;
  /** Only where files can be saved for the caller (stdio); absent, the tool is not offered. */
  download?: (request: DownloadRequest) => Promise<SavedFile>;
  /** Anything the methods above threw, as the problem the tool answers with. */
  problemOf(error: unknown): ToolProblem;
}
