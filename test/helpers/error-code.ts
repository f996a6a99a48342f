import { ShazbotError } from '../../src/errors.js';

/** Runs `fn` and returns the `code` of the ShazbotError it throws, undefined if it returns, or a marker for any other throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ShazbotError ? e.code : `not a ShazbotError: ${String(e)}`;
  }
  return undefined;
}
