import { randomBytes, randomInt } from 'node:crypto';
import type { Random } from './random.js';

/** The production Random: node:crypto for both floats and bytes. */
export const cryptoRandom: Random = {
  float: () => randomInt(0, 2 ** 48) / 2 ** 48,
  bytes: (n) => new Uint8Array(randomBytes(n)),
};
