/**
 * The three commands on top of the gateway client: what each asks, what goes to stdout
 * (only the final output) and which exit code it ends with.
 */
import type { Invocation, OutputFormat } from './arguments.js';
import { DEFAULT_GATEWAY_URL, type CliEnvironment } from './environment.js';
import { Downloader } from './download.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { formatTaskText, type Paint } from './format.js';
import { GatewayClient, parseGatewayUrl, type TaskAnswer } from './gateway.js';
import { transferView, waitView, type Screen } from './progress.js';
import { waitForTask } from './wait.js';

export interface Terminal {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /** Progress and messages. */
  stderr: Screen;
  /** For the `text` output on stdout. */
  stdoutPaint: Paint;
  /** Fires on Ctrl-C. */
  interrupt: AbortSignal;
}

type CommandInvocation = Extract<Invocation, { command: 'status' | 'wait' | 'download' }>;

function print(answer: TaskAnswer, format: OutputFormat, terminal: Terminal): void {
  const { stdout } = terminal;
  if (format === 'json') {
    // The gateway's bytes, as a text line: files and pipes (jq, wc -l) get a whole line too.
    stdout.write(answer.body);
    stdout.write('\n');
  } else if (format === 'url') {
    if (answer.task.url !== null) stdout.write(`${answer.task.url}\n`);
  } else {
    stdout.write(formatTaskText(answer.task, { now: new Date(), paint: terminal.stdoutPaint }));
  }
}

async function runWithClient(invocation: CommandInvocation, client: GatewayClient, terminal: Terminal): Promise<ExitCode> {
  if (invocation.command === 'status') {
    const answer = await client.getTask(invocation.id, { waitSeconds: 0, signal: terminal.interrupt });
    print(answer, invocation.output, terminal);
    return EXIT.ok;
  }
  if (invocation.command === 'wait') {
    const view = waitView(terminal.stderr, invocation.id);
    let answer: TaskAnswer;
    try {
      answer = await waitForTask(client, { id: invocation.id, timeoutMs: invocation.timeoutMs }, view, terminal.interrupt);
    } finally {
      view.end();
    }
    print(answer, invocation.output, terminal);
    const { task } = answer;
    if (task.status === 'succeeded') return EXIT.ok;
    // With `--output url` stdout stays empty, so say why here.
    if (invocation.output === 'url') {
      const reason = task.error === null ? '' : `: ${task.error.code}: ${task.error.message}`;
      terminal.stderr.stream.write(`taskgate: ${task.status}: ${task.id} ${task.status}${reason}\n`);
    }
    return EXIT.failed;
  }
  const { id, outputIndex, destination, force } = invocation;
  const downloader = new Downloader(client, { id, outputIndex, destination, force }, transferView(terminal.stderr), terminal.interrupt);
  const file = await downloader.run();
  terminal.stdout.write(`${file}\n`);
  return EXIT.ok;
}

/** Runs one invocation; a CliError escaping from here is printed by the entry module. */
export async function runCommand(invocation: CommandInvocation, environment: CliEnvironment, terminal: Terminal): Promise<ExitCode> {
  const baseUrl = parseGatewayUrl(invocation.gateway ?? environment.gatewayUrl ?? DEFAULT_GATEWAY_URL);
  const client = new GatewayClient({ baseUrl, apiKey: environment.apiKey });
  try {
    return await runWithClient(invocation, client, terminal);
  } catch (error) {
    // An interrupt surfaces as an abort wherever it caught the request.
    if (terminal.interrupt.aborted && !(error instanceof CliError)) throw new CliError(EXIT.interrupted, 'interrupted', 'interrupted');
    throw error;
  } finally {
    await client.close();
  }
}
