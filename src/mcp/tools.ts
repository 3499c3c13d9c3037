/**
 * The MCP tools, written once: their arguments (from the public schemas), what each
 * answers, and the MCP server that offers them over a TaskBackend. `POST /mcp` serves
 * them with the gateway's own TaskService; `taskgate mcp` over stdio with its HTTP API.
 *
 * The SDK's low-level `Server`, not `McpServer`: McpServer answers a bad argument with its
 * own error text, while these tools must answer every failure as a result carrying the
 * problem's `code` (an id is checked as `GET /tasks/{id}` checks it: `invalid_task_id`).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
  type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { LinkRequestSchema, LinkSetSchema } from '../../schemas/links.js';
import { TASK_ID_RULE, TaskIdSchema } from '../../schemas/params.js';
import { TaskSchema, type Task } from '../../schemas/task.js';
import type { TaskBackend, ToolProblem } from './backend.js';

/** The longest one `wait_for_task` call waits: an agent calls again to wait longer. */
const MAX_TOOL_WAIT_SECONDS = 600;
/** Under the 60 s after which the SDK's client gives up on a request by default. */
const DEFAULT_TOOL_WAIT_SECONDS = 50;

const ToolProblemSchema = z.object({
  code: z.string().describe('The problem code, as in the HTTP API (`invalid_task_id`, `task_not_found`, …)'),
  detail: z.string().describe('What went wrong, for people'),
});

const GetTaskArguments = z.object({ id: TaskIdSchema }).strict();

const WaitArguments = z
  .object({
    id: TaskIdSchema,
    timeout_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_TOOL_WAIT_SECONDS)
      .default(DEFAULT_TOOL_WAIT_SECONDS)
      .describe(
        `How long to wait for the task to finish, in seconds (0-${MAX_TOOL_WAIT_SECONDS}; 0: look once); keep it under the request timeout of your MCP client`,
      ),
  })
  .strict();

const LinkArguments = z.object({ id: TaskIdSchema, ttl_seconds: LinkRequestSchema.shape.ttl_seconds }).strict();

const DownloadArguments = z
  .object({
    id: TaskIdSchema,
    output_index: z.number().int().min(0).optional().describe("Which of the task's outputs (0 first); omitted: its primary output"),
    path: z.string().min(1).max(1024).describe('Where to save the file: a file path inside the download folder (relative to it, or absolute within it)'),
    overwrite: z.boolean().default(false).describe('Replace the file if it exists'),
  })
  .strict();

const WaitResultSchema = z.object({
  finished: z.boolean().describe('True when the task reached a terminal state; false when the timeout came first'),
  task: TaskSchema,
});

const SavedFileSchema = z.object({
  path: z.string().describe('The absolute path of the saved file'),
  size: z.number().int().nonnegative().describe('Its size in bytes'),
  sha256: z.string().describe('The SHA-256 of its bytes, in hex'),
});

/** What a tool's run answers: its structured content and a one-line summary. */
interface ToolAnswer {
  structured: Record<string, unknown>;
  summary: string;
}

interface ToolContext {
  backend: TaskBackend;
  signal: AbortSignal;
  /** Sends an MCP progress notification, when the caller asked for them (a no-op otherwise). */
  progress: (progress: number, total: number, message: string) => void;
}

interface ToolDefinition<Arguments extends z.ZodType> {
  name: string;
  title: string;
  description: string;
  arguments: Arguments;
  /** The structured content of a success (a failure's is a ToolProblem). */
  result: z.ZodType;
  annotations: ToolAnnotations;
  /** Offered only by a backend that can save files. */
  needsDownload?: boolean;
  run(args: z.output<Arguments>, context: ToolContext): Promise<ToolAnswer>;
}

interface RunnableTool {
  definition: Tool;
  needsDownload: boolean;
  call(args: unknown, context: ToolContext): Promise<CallToolResult>;
}

function progressText(task: Task): string {
  return task.progress === null ? task.status : `${task.status} ${task.progress}%`;
}

/** `task_abc001 (vtrix): succeeded 100%, http://…` — what an agent reads first. */
function summarizeTask(task: Task): string {
  const head = `${task.id} (${task.provider}): ${progressText(task)}`;
  if (task.error !== null) return `${head}, ${task.error.code}: ${task.error.message}`;
  return task.url === null ? head : `${head}, ${task.url}`;
}

function failure(problem: ToolProblem): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${problem.code}: ${problem.detail}` }],
    structuredContent: { code: problem.code, detail: problem.detail },
  };
}

/** A bad argument, worded like the HTTP API's: the id has its own code. */
function invalidArguments(error: z.ZodError): ToolProblem {
  if (error.issues.some((issue) => issue.path[0] === 'id')) return { code: 'invalid_task_id', detail: TASK_ID_RULE };
  const details = error.issues.map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`));
  return { code: 'invalid_request', detail: `${details.join('; ')}.` };
}

/**
 * The schema a tool's structured content follows: its result, or the problem of a failure.
 * Both are listed because some clients (the SDK's own among them) check a failure's
 * structured content against the tool's output schema too.
 */
function outputSchema(result: z.ZodType): Tool['outputSchema'] {
  return objectSchema(z.union([result, ToolProblemSchema]), 'output');
}

/** MCP wants `type: object` at the top (a union has none of its own; each branch is an object). */
function objectSchema(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  // zod's JSON Schema type allows `true`/`false` subschemas, which the SDK's type does not; these schemas have none.
  return { ...z.toJSONSchema(schema, { target: 'draft-7', io }), type: 'object' } as Tool['inputSchema'];
}

function defineTool<Arguments extends z.ZodType>(tool: ToolDefinition<Arguments>): RunnableTool {
  return {
    needsDownload: tool.needsDownload === true,
    definition: {
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: objectSchema(tool.arguments, 'input'),
      outputSchema: outputSchema(tool.result),
      annotations: tool.annotations,
    },
    async call(args, context) {
      const parsed = tool.arguments.safeParse(args ?? {});
      if (!parsed.success) return failure(invalidArguments(parsed.error));
      let answer: ToolAnswer;
      try {
        answer = await tool.run(parsed.data, context);
      } catch (error) {
        return failure(context.backend.problemOf(error));
      }
      // The JSON too: hosts that pass only `content` to the model would otherwise hide the fields.
      return {
        content: [
          { type: 'text', text: answer.summary },
          { type: 'text', text: JSON.stringify(answer.structured) },
        ],
        structuredContent: answer.structured,
      };
    },
  };
}

const TOOLS: readonly RunnableTool[] = [
  defineTool({
    name: 'get_task',
    title: 'Get a task',
    description:
      'The current state of an AI generation task, at whichever provider runs it, in one normalized shape: status (queued, in_progress, succeeded, failed, canceled), progress, the result URL when it succeeded, the error when it failed.',
    arguments: GetTaskArguments,
    result: TaskSchema,
    annotations: { readOnlyHint: true, openWorldHint: true },
    async run({ id }, { backend, signal }) {
      const task = await backend.getTask(id, signal);
      return { structured: task, summary: summarizeTask(task) };
    },
  }),
  defineTool({
    name: 'wait_for_task',
    title: 'Wait for a task to finish',
    description: `Waits until the task succeeds, fails or is canceled, or until timeout_seconds (at most ${MAX_TOOL_WAIT_SECONDS}) pass, and answers the task with \`finished\` saying which. The gateway is long-polled, never polled in a loop. With a progress token, sends MCP progress notifications carrying the task's progress (0-100).`,
    arguments: WaitArguments,
    result: WaitResultSchema,
    annotations: { readOnlyHint: true, openWorldHint: true },
    async run({ id, timeout_seconds: timeoutSeconds }, { backend, signal, progress }) {
      // Progress notifications must rise: a state that does not advance it sends none.
      let reported = -1;
      const onChange = (task: Task) => {
        const value = task.progress ?? 0;
        if (value <= reported) return;
        reported = value;
        progress(value, 100, `${task.id}: ${progressText(task)}`);
      };
      const { task, finished } = await backend.waitForTask({ id, timeoutMs: timeoutSeconds * 1000, onChange, signal });
      const summary = finished ? summarizeTask(task) : `not finished after ${timeoutSeconds} s: ${summarizeTask(task)}`;
      return { structured: { finished, task }, summary };
    },
  }),
  defineTool({
    name: 'get_result_link',
    title: 'Get browser links to a task',
    description:
      "Links to the task's status, events and result file that work in a browser without any key, for this task only, until they expire (ttl_seconds). The task is not looked up: an id no provider can own is an error at once.",
    arguments: LinkArguments,
    result: LinkSetSchema,
    annotations: { readOnlyHint: true, openWorldHint: false },
    async run({ id, ttl_seconds: ttlSeconds }, { backend, signal }) {
      const links = await backend.createLinks(id, ttlSeconds, signal);
      return { structured: links, summary: `${links.content_url} (until ${links.expires_at})` };
    },
  }),
  defineTool({
    name: 'download_result',
    title: "Download a task's result file",
    description:
      "Saves one of a succeeded task's result files under the download folder (`taskgate mcp --dir`, default the current one), never outside it, and answers the saved file's path, size and SHA-256. An interrupted download resumes when called again.",
    arguments: DownloadArguments,
    result: SavedFileSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    needsDownload: true,
    async run({ id, output_index: outputIndex, path, overwrite }, { backend, signal }) {
      if (backend.download === undefined) throw new Error('download_result was called on a backend that cannot save files');
      const saved = await backend.download({ id, outputIndex, path, overwrite, signal });
      return { structured: { ...saved }, summary: `saved ${saved.path} (${saved.size} bytes, sha256 ${saved.sha256})` };
    },
  }),
];

type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

function progressSender(extra: HandlerExtra): ToolContext['progress'] {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return () => {};
  return (progress, total, message) => {
    // A notification the client can no longer receive (it left) is dropped, not an error.
    extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total, message } }).catch(() => {});
  };
}

/**
 * The server checks schemas only of what it asks the client (never, here); one validator
 * serves every server, rather than one Ajv made for each `POST /mcp`.
 */
const sharedValidator = new AjvJsonSchemaValidator();

export interface ToolServerOptions {
  version: string;
}

/** An MCP server offering the tools over `backend`; connect it to a transport. */
export function createToolServer(backend: TaskBackend, options: ToolServerOptions): Server {
  const tools = TOOLS.filter((tool) => !tool.needsDownload || backend.download !== undefined);
  const server = new Server(
    { name: 'taskgate', title: 'taskgate', version: options.version },
    {
      capabilities: { tools: {} },
      jsonSchemaValidator: sharedValidator,
      instructions:
        'Follows AI video generation tasks at any provider through a taskgate gateway: get_task for the current state, wait_for_task to wait for the end, get_result_link for browser links to the result.',
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((tool) => tool.definition) }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const tool = tools.find((candidate) => candidate.definition.name === request.params.name);
    if (tool === undefined) throw new McpError(ErrorCode.InvalidParams, `No tool is named ${request.params.name}.`);
    return tool.call(request.params.arguments, { backend, signal: extra.signal, progress: progressSender(extra) });
  });
  return server;
}
