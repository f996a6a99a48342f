/**
 * An AbortSignal that aborts on the first SIGINT (Ctrl-C) or SIGTERM, for
 * commands that run until stopped. `dispose()` removes the handlers again.
 */
export function stopOnSignals(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
