/**
 * The command line's own configuration: the only module of the CLI that reads the
 * environment. The CLI is a separate program from the server (src/config.ts is the
 * server's one reader), so it reads its variables here, once, and passes them in:
 * TASKGATE_URL, TASKGATE_API_KEY (DESIGN.md "Command line"), and NO_COLOR / TERM for
 * how it draws on a terminal.
 */

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080';

export interface CliEnvironment {
  /** TASKGATE_URL; `--gateway` overrides it. */
  gatewayUrl: string | undefined;
  /** TASKGATE_API_KEY, sent as a Bearer token. Deliberately no flag: flags land in shell history. */
  apiKey: string | undefined;
  /** False when NO_COLOR is set to anything non-empty (no-color.org) or the terminal is dumb. */
  colorAllowed: boolean;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

export function readCliEnvironment(env: Record<string, string | undefined> = process.env): CliEnvironment {
  return {
    gatewayUrl: nonEmpty(env['TASKGATE_URL']),
    apiKey: nonEmpty(env['TASKGATE_API_KEY']),
    colorAllowed: nonEmpty(env['NO_COLOR']) === undefined && env['TERM'] !== 'dumb',
  };
}
