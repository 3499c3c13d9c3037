/**
 * What the MCP tests share: a tool result read through the SDK's own result type, the
 * progress a call reported, a task story long enough for every step to be seen, and a
 * client transport over the pipes of a process the test started.
 */
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, Progress } from '@modelcontextprotocol/sdk/types.js';
import type { Simulator } from '../../src/simulators/index.js';

export interface ToolOutcome {
  isError: boolean;
  structured: Record<string, unknown> | undefined;
  /** The text blocks: the one-line summary first. */
  texts: string[];
}

export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<ToolOutcome> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    isError: result.isError === true,
    structured: result.structuredContent,
    texts: result.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])),
  };
}

/** A call with a progress token (the SDK sets one when `onprogress` is given), and what it was told. */
export async function callWithProgress(client: Client, name: string, args: Record<string, unknown>): Promise<{ outcome: ToolOutcome; progress: Progress[] }> {
  const progress: Progress[] = [];
  const result = (await client.callTool({ name, arguments: args }, undefined, { onprogress: (update) => progress.push(update) })) as CallToolResult;
  const outcome = {
    isError: result.isError === true,
    structured: result.structuredContent,
    texts: result.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])),
  };
  return { outcome, progress };
}

/** A failed call: a result (not a protocol error) with the problem's code in both forms. */
export function assertToolProblem(outcome: ToolOutcome, code: string): void {
  assert.equal(outcome.isError, true, JSON.stringify(outcome));
  assert.equal(outcome.structured?.['code'], code);
  assert.equal(typeof outcome.structured?.['detail'], 'string');
  assert.ok(outcome.texts[0]?.startsWith(`${code}: `), outcome.texts[0]);
}

/**
 * A vtrix task that queues, runs at 20% then 60%, then succeeds; each phase lasts
 * `phaseMs` of the simulator's time, which must be well over how often the waiter learns
 * of changes (the gateway's 50 ms polls in process; the CLI's 1 s long-polls over stdio).
 */
export function pinRisingTask(vtrix: Simulator, id: string, phaseMs: number): void {
  vtrix.setTask(id, {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'queued' },
      { atMs: phaseMs, status: 'in_progress', progress: 20 },
      { atMs: 2 * phaseMs, status: 'in_progress', progress: 60 },
      { atMs: 3 * phaseMs, status: 'succeeded' },
    ],
  });
}

/**
 * Progress notifications rise, and at least one came while the task ran. The one sent
 * with the terminal state may be missing: the SDK's client drops a notification read in
 * the same chunk as the response it belongs to (it dispatches the response first).
 */
export function assertRisingProgress(progress: Progress[], id: string): void {
  const values = progress.map((update) => update.progress);
  assert.ok(values.length >= 2, `progress: ${JSON.stringify(values)}`);
  for (let index = 1; index < values.length; index++) assert.ok(values[index]! > values[index - 1]!, `progress: ${JSON.stringify(values)}`);
  assert.ok(values.some((value) => value > 0 && value < 100), `a value while running: ${JSON.stringify(values)}`);
  assert.ok(progress.every((update) => update.total === 100 && update.message?.startsWith(`${id}: `) === true), JSON.stringify(progress));
  assert.equal(progress.find((update) => update.progress === 20)?.message, `${id}: in_progress 20%`);
}

/**
 * The SDK client's side of a `taskgate mcp` process the test spawned itself (so it sees
 * the exit code and every byte of stdout): the SDK's own framing over the child's pipes.
 */
export class ChildProcessTransport implements Transport {
  private readonly buffer = new ReadBuffer();
  /** stdout as it came, to check that nothing but MCP messages did. */
  readonly stdout: Buffer[] = [];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  async start(): Promise<void> {
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.stdout.push(chunk);
      this.buffer.append(chunk);
      try {
        for (let message = this.buffer.readMessage(); message !== null; message = this.buffer.readMessage()) this.onmessage?.(message);
      } catch (error) {
        this.onerror?.(error as Error);
      }
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => this.child.stdin.write(serializeMessage(message), () => resolve()));
  }

  /** Closes the child's stdin, as a host that goes away does. */
  async close(): Promise<void> {
    this.child.stdin.end();
    this.onclose?.();
  }
}
