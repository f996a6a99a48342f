/**
 * The typed errors of the replicated state. Each carries the HTTP status an
 * application route would answer with, so `catch (e) { res.status(e.status) }`
 * is right by default.
 */
import { ShazbotError } from '../errors.js';
import type { Version } from './types.js';

/** `update` of a key that is absent on this replica (HTTP 404). */
export class KeyNotFoundError extends ShazbotError {
  override name = 'KeyNotFoundError';
  constructor(readonly map: string, readonly key: string) {
    super('NOT_FOUND', 404, `no such key in map ${JSON.stringify(map)}`);
  }
}

/** `ifVersion` did not match the key's current version on this replica (HTTP 409). */
export class VersionMismatchError extends ShazbotError {
  override name = 'VersionMismatchError';
  constructor(readonly current: Version | undefined) {
    super('VERSION_MISMATCH', 409, current === undefined ? 'the key is absent' : 'the key has another version');
  }
}

/** A write would pass `maxKeys`, `maxValueBytes`, `maxTotalBytes` or `maxKeyBytes`; nothing was written (HTTP 413). */
export class LimitExceededError extends ShazbotError {
  override name = 'LimitExceededError';
  constructor(readonly limit: 'maxKeys' | 'maxValueBytes' | 'maxTotalBytes' | 'maxKeyBytes', message: string) {
    super('LIMIT_EXCEEDED', 413, message);
  }
}

/**
 * A 'majority' or 'all' write did not gather its acknowledgements in time
 * (HTTP 503). The write is NOT rolled back: it is applied on this replica
 * and on `acks - 1` others, and keeps spreading; it may win or lose later
 * like any write. Retrying it writes again (a new version).
 */
export class WriteTimeoutError extends ShazbotError {
  override name = 'WriteTimeoutError';
  constructor(readonly acks: number, readonly needed: number, readonly version: Version | undefined, readonly token: string) {
    super('WRITE_TIMEOUT', 503, `write acknowledged by ${acks} of the ${needed} replicas needed in time (applied here, not rolled back)`);
  }
}

/** `get(key, { atLeast })` or `caughtUp` waited past its timeout (HTTP 503). */
export class StaleReadError extends ShazbotError {
  override name = 'StaleReadError';
  constructor(timeoutMs: number) {
    super('STALE_READ', 503, `this replica had not caught up with the session after ${timeoutMs} ms`);
  }
}
