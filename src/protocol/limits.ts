/**
 * Size limits shared by the adapters and the engine, kept apart from both
 * so that either can import them without importing the other.
 */

/**
 * Largest request body, in bytes, the bundled adapters accept by default
 * (their `maxBodyBytes`; 413 beyond): a whole list of 20,000 servers fits.
 * Extensions size what they put in one message by it.
 */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
