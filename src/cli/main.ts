/**
 * The `taskgate` command line's entry: `node dist/taskgate-cli.mjs` once built, or
 * `npm run -s taskgate -- …` from a clone. It is its own program, not the server: like
 * src/server.ts for the server, this entry parses its process's environment once
 * (TASKGATE_URL, TASKGATE_API_KEY, NO_COLOR; src/config.ts hands it over) and passes it in.
 */
import { parseInvocation } from './arguments.js';
import { runCommand, type Terminal } from './commands.js';
import { processEnvironment } from '../config.js';
import { readCliEnvironment } from './environment.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { painter } from './format.js';
import { VERSION } from '../version.js';

/** Belt and braces: whatever a message quotes, the key never reaches the screen. */
function redact(text: string, apiKey: string | undefined): string {
  return apiKey === undefined ? text : text.replaceAll(apiKey, '[redacted]');
}

async function main(): Promise<ExitCode> {
  const environment = readCliEnvironment(processEnvironment());
  // `taskgate status … | head -1`: a reader that stops early is not an error of ours.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? EXIT.ok);
  });
  const interruption = new AbortController();
  process.once('SIGINT', () => {
    interruption.abort();
    // A second Ctrl-C does not wait for the clean-up.
    process.once('SIGINT', () => process.exit(EXIT.interrupted));
  });
  const terminal: Terminal = {
    stdout: process.stdout,
    stderr: { stream: process.stderr, interactive: process.stderr.isTTY === true, paint: painter(environment.colorAllowed && process.stderr.isTTY === true) },
    stdoutPaint: painter(environment.colorAllowed && process.stdout.isTTY === true),
    interrupt: interruption.signal,
  };
  try {
    const invocation = parseInvocation(process.argv.slice(2));
    if (invocation.command === 'help') {
      process.stdout.write(invocation.text);
      return EXIT.ok;
    }
    if (invocation.command === 'version') {
      process.stdout.write(`taskgate ${VERSION}\n`);
      return EXIT.ok;
    }
    if (invocation.command === 'mcp') {
      // Loaded only here: the other commands never evaluate the MCP SDK.
      const { serveMcp } = await import('./mcp.js');
      return await serveMcp(invocation, environment, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, interrupt: interruption.signal }, VERSION);
    }
    return await runCommand(invocation, environment, terminal);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    process.stderr.write(redact(`taskgate: ${error.code}: ${error.detail}\n`, environment.apiKey));
    return error.exitCode;
  }
}

process.exitCode = await main();
