/**
 * Exit codes (docs/cli.md) and the one error type every command throws; the
 * entry module prints it as `taskgate: <code>: <detail>` and exits with its code.
 */

export const EXIT = {
  ok: 0,
  /** `wait`: the task failed or was canceled; `download`: the file could not be written. */
  failed: 1,
  usage: 2,
  /** The gateway answered a problem (or something that is not a taskgate answer). */
  problem: 3,
  unreachable: 4,
  timeout: 124,
  /** 128 + SIGINT, what shells report for an interrupted command. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override name = 'CliError';

  constructor(
    readonly exitCode: ExitCode,
    /** The machine-readable word after `taskgate: ` (a problem's own `code` for exit 3). */
    readonly code: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
  }
}

export function usageError(detail: string): CliError {
  return new CliError(EXIT.usage, 'usage', detail);
}
