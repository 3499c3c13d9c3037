/**
 * The command line's grammar, with node's own `util.parseArgs` in strict mode: an
 * unknown flag (`--api-key` included) is bad usage, exit 2. Help texts live beside the
 * options they describe.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './errors.js';

export const OUTPUT_FORMATS = ['text', 'json', 'url'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const DEFAULT_TIMEOUT_SECONDS = 600;
/** The longest a Node timer holds (2^31-1 ms): a longer `--timeout` would fire at once. */
const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

interface Common {
  /** `--gateway`, when given. */
  gateway: string | undefined;
}

export type Invocation =
  | { command: 'help'; text: string }
  | { command: 'version' }
  | ({ command: 'status'; id: string; output: OutputFormat } & Common)
  | ({ command: 'wait'; id: string; output: OutputFormat; timeoutMs: number } & Common)
  | ({ command: 'download'; id: string; outputIndex: number | undefined; destination: string | undefined; force: boolean } & Common)
  | ({ command: 'mcp'; dir: string | undefined } & Common);

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON_OPTIONS = {
  gateway: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

const OUTPUT_OPTION = { output: { type: 'string' } } as const satisfies Options;

const COMMAND_OPTIONS = {
  status: { ...COMMON_OPTIONS, ...OUTPUT_OPTION },
  wait: { ...COMMON_OPTIONS, ...OUTPUT_OPTION, timeout: { type: 'string' } },
  download: { ...COMMON_OPTIONS, 'output-file': { type: 'string', short: 'o' }, 'output-index': { type: 'string' }, force: { type: 'boolean', short: 'f' } },
  mcp: { ...COMMON_OPTIONS, dir: { type: 'string' } },
} as const satisfies Record<string, Options>;
type CommandName = keyof typeof COMMAND_OPTIONS;

const TOP_OPTIONS = { ...COMMON_OPTIONS, version: { type: 'boolean', short: 'V' } } as const satisfies Options;

const COMMON_HELP = `Options of every command:
  --gateway URL    the gateway (default: $TASKGATE_URL, else http://127.0.0.1:8080)
  -h, --help       this help

Environment:
  TASKGATE_URL      the gateway's URL; --gateway overrides it
  TASKGATE_API_KEY  the client key, sent as "Authorization: Bearer <key>". There is no
                    flag for it, so it stays out of shell history and process lists.
  NO_COLOR          when set, no colours`;

const EXIT_HELP = `Exit codes:
  0    succeeded (status: the task was read, whatever its state)
  1    the task failed or was canceled (wait); the file could not be written (download)
  2    bad usage (an unknown flag included), or the file exists (download without --force)
  3    the gateway answered a problem: its code and detail on stderr
  4    the gateway could not be reached
  124  --timeout passed (wait)
  130  interrupted (Ctrl-C)`;

export const HELP: Record<CommandName | 'top', string> = {
  top: `taskgate: the status of AI generation tasks, at every provider, through a taskgate gateway

Usage:
  taskgate status <id> [--output text|json|url]
  taskgate wait <id> [--timeout SECONDS] [--output text|json|url]
  taskgate download <id> [-o FILE] [--output-index N] [--force]
  taskgate mcp [--dir DIR]
  taskgate <command> --help
  taskgate --version

${COMMON_HELP}

${EXIT_HELP}
`,
  status: `Usage: taskgate status <id> [--output text|json|url]

Asks the gateway once for the task's state (GET /tasks/{id}).

  --output text    for people: Task, Provider, Status, Progress, Model, Created (local
                   time), Elapsed, then URL or Error (the default)
  --output json    the Task exactly as the gateway sent it
  --output url     only the result URL; nothing when there is none yet

${COMMON_HELP}

Exit codes: 0 the task was read (failed ones included), 2 bad usage, 3 the gateway
answered a problem, 4 the gateway could not be reached.
`,
  wait: `Usage: taskgate wait <id> [--timeout SECONDS] [--output text|json|url]

Waits until the task succeeds, fails or is canceled, then prints it like status. The
gateway holds each request until there is news (long-poll), so nothing polls in a loop.
On a terminal a progress bar is drawn on stderr; otherwise one line per change goes to
stderr. Transient gateway errors (502, 503, 504, a reset connection) are retried with
backoff until the timeout. stdout carries only the final output.

  --timeout SECONDS   give up after this long (default ${DEFAULT_TIMEOUT_SECONDS}; 0: look once)
  --output FORMAT     text (default), json or url, as for status

${COMMON_HELP}

${EXIT_HELP}
`,
  download: `Usage: taskgate download <id> [-o FILE] [--output-index N] [--force]

Streams the task's result file through the gateway (GET /tasks/{id}/content) into FILE,
with a progress bar on a terminal, and prints FILE's path on stdout. The bytes go to
FILE.part first and become FILE only when complete. An interrupted download keeps
FILE.part (and FILE.part.json, what the file was) and the same command later asks only
for the rest; a file that changed since comes whole again.

  -o, --output-file FILE   where to save (an existing directory: the default name in it);
                           default: the name the gateway gives, in the current directory
  --output-index N         the task's Nth output (0 first); default: its primary output
  -f, --force              replace FILE if it exists

${COMMON_HELP}

${EXIT_HELP}
`,
  mcp: `Usage: taskgate mcp [--dir DIR]

Serves the gateway's tools to an AI agent over MCP (the Model Context Protocol) on stdin
and stdout: the agent host starts this command as its MCP server. Tools: get_task,
wait_for_task (with progress notifications), get_result_link, and download_result, which
saves a result file inside DIR only and answers its path, size and SHA-256. stdout carries
MCP messages only; log lines go to stderr. Ends when the host closes stdin.

  --dir DIR    the folder download_result saves into (default: the current directory)

${COMMON_HELP}

Exit codes: 0 the host closed stdin, 2 bad usage (e.g. DIR is not a folder), 130 Ctrl-C.
`,
};

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMAND_OPTIONS, name);
}

function helpCommand(command: string): string {
  return command === 'top' ? 'taskgate --help' : `taskgate ${command} --help`;
}

/** Names the flag only, never a value given with it (`--api-key=…` may well be a key). */
function unknownOption(flag: string, command: string): never {
  const hint = /key|token|auth|secret/i.test(flag) ? ' (the key is read from TASKGATE_API_KEY only)' : '';
  throw usageError(`unknown option ${flag}${hint}; see ${helpCommand(command)}`);
}

/** parseArgs' own messages are long and suggest `--`; ours name the flag and what to do. */
function describeParseError(error: unknown, command: string): never {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message;
  // `'--output <value>'`, `'-h, --help'`, `'--api-key'`: the long name.
  const flag = /'(?:-[^-\s], )?(-{1,2}[^' =,<]+)/.exec(message)?.[1];
  const help = helpCommand(command);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== undefined) unknownOption(flag, command);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag !== undefined) {
    if (/argument missing/.test(message)) throw usageError(`${flag} needs a value; see ${help}`);
    if (/ambiguous/.test(message)) throw usageError(`${flag} needs a value (one that starts with "-" is written ${flag}=…); see ${help}`);
    throw usageError(`${flag} takes no value; see ${help}`);
  }
  throw usageError(`${message}; see ${help}`);
}

function strictParse<Config extends Options>(args: string[], options: Config, command: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    describeParseError(error, command);
  }
}

function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return 'text';
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw usageError(`--output must be one of ${OUTPUT_FORMATS.join(', ')}, got "${value}"`);
}

function timeoutMs(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds > MAX_TIMEOUT_SECONDS) {
    throw usageError(`--timeout must be a number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}, got "${value}"`);
  }
  return Math.round(seconds * 1000);
}

function outputIndex(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value.trim())) throw usageError(`--output-index must be a whole number from 0, got "${value}"`);
  return Number(value);
}

function taskId(positionals: string[], command: CommandName): string {
  const [id, ...extra] = positionals;
  if (id === undefined || id === '') throw usageError(`${command} needs a task id: taskgate ${command} <id>`);
  if (extra.length > 0) throw usageError(`${command} takes one task id, got ${positionals.length} arguments`);
  return id;
}

/** Every option of every command, so a first loose pass can find the command word wherever it is. */
const ALL_OPTIONS: Options = Object.values(COMMAND_OPTIONS).reduce<Options>((all, options) => ({ ...all, ...options }), { ...TOP_OPTIONS });

export function parseInvocation(args: string[]): Invocation {
  // `taskgate --gateway URL wait id` works too: the first positional (not an option's value) is the command.
  const { tokens } = parseArgs({ args, options: ALL_OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const commandToken = tokens.find((token) => token.kind === 'positional');
  const name = commandToken?.kind === 'positional' ? commandToken.value : undefined;
  // Before anything else: the loose pass would take the value after an unknown flag for a word.
  const unknown = tokens.find((token) => token.kind === 'option' && !Object.hasOwn(ALL_OPTIONS, token.name));
  if (unknown?.kind === 'option') unknownOption(unknown.rawName, isCommand(name) && unknown.index > (commandToken?.index ?? 0) ? name : 'top');

  if (commandToken === undefined || name === 'help') {
    const rest = commandToken === undefined ? args : args.filter((_, index) => index !== commandToken.index);
    const { values, positionals } = strictParse(rest, TOP_OPTIONS, 'top');
    const topic = positionals[0];
    if (name === 'help') {
      if (topic === undefined) return { command: 'help', text: HELP.top };
      if (isCommand(topic)) return { command: 'help', text: HELP[topic] };
      throw usageError(`no command is named "${topic}"; see taskgate --help`);
    }
    if (values.version === true) return { command: 'version' };
    if (values.help === true) return { command: 'help', text: HELP.top };
    throw usageError('a command is needed: status, wait, download or mcp; see taskgate --help');
  }
  if (!isCommand(name)) throw usageError(`no command is named "${name}"; see taskgate --help`);

  const rest = args.filter((_, index) => index !== commandToken.index);
  if (name === 'status') {
    const { values, positionals } = strictParse(rest, COMMAND_OPTIONS.status, name);
    if (values.help === true) return { command: 'help', text: HELP.status };
    return { command: 'status', id: taskId(positionals, name), output: outputFormat(values.output), gateway: values.gateway };
  }
  if (name === 'wait') {
    const { values, positionals } = strictParse(rest, COMMAND_OPTIONS.wait, name);
    if (values.help === true) return { command: 'help', text: HELP.wait };
    return {
      command: 'wait',
      id: taskId(positionals, name),
      output: outputFormat(values.output),
      timeoutMs: timeoutMs(values.timeout),
      gateway: values.gateway,
    };
  }
  if (name === 'mcp') {
    const { values, positionals } = strictParse(rest, COMMAND_OPTIONS.mcp, name);
    if (values.help === true) return { command: 'help', text: HELP.mcp };
    if (positionals.length > 0) throw usageError(`mcp takes no arguments, got "${positionals[0]}"; see taskgate mcp --help`);
    return { command: 'mcp', dir: values.dir, gateway: values.gateway };
  }
  const { values, positionals } = strictParse(rest, COMMAND_OPTIONS.download, name);
  if (values.help === true) return { command: 'help', text: HELP.download };
  return {
    command: 'download',
    id: taskId(positionals, name),
    outputIndex: outputIndex(values['output-index']),
    destination: values['output-file'],
    force: values.force === true,
    gateway: values.gateway,
  };
}
