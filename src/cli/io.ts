/** Where a CLI run reads and writes; the binary passes the process's own streams. */
export interface CliIo {
  /** Results: tables, JSON, generated secrets. Cleared with ANSI codes by `watch` only when `isTTY`. */
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  /** Errors, warnings, notes and prompts. */
  readonly stderr: NodeJS.WritableStream;
  /** Environment variables (`SHAZBOT_CONTROL_SECRET`, `SHAZBOT_MASTER_LIST_UPDATE_AUTH`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `--secret-stdin` and the secret prompt read; absent means no input at all. */
  readonly stdin?: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
}
