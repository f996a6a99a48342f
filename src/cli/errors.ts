/** Process exit codes of the `clustershazbot` CLI. */
export const EXIT = {
  /** The command did what was asked. */
  ok: 0,
  /** The operation failed: the server answered an error, or junk. */
  failed: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The server could not be reached: connection refused, timeout. */
  unreachable: 3,
} as const;

/** One of the {@link EXIT} codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An expected failure: shown as one `error: …` line on stderr, never with a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  /**
   * @param exitCode the process exit code it causes.
   * @param reported true when the command has already shown it, so it is not printed again.
   */
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly reported = false,
  ) {
    super(message);
  }
}
