/**
 * The command line's own settings: TASKGATE_URL, TASKGATE_API_KEY, and NO_COLOR / TERM for
 * how it draws on a terminal. The CLI is its own program, not the server: its entry reads
 * its environment once and passes this in.
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

export function readCliEnvironment(env: Readonly<Record<string, string | undefined>>): CliEnvironment {
  const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
  return {
    gatewayUrl: nonEmpty(env['TASKGATE_URL']),
    apiKey: nonEmpty(env['TASKGATE_API_KEY']),
    colorAllowed: nonEmpty(env['NO_COLOR']) === undefined && env['TERM'] !== 'dumb',
  };
}
