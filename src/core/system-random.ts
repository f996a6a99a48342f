import { randomBytes, randomFillSync } from 'node:crypto';
import type { Random } from './random.js';

/** The production Random: node:crypto for both floats (48 random bits) and bytes. */
export const cryptoRandom: Random = {
  float: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
  bytes: (n) => new Uint8Array(randomBytes(n)),
  fill: (target) => {
    randomFillSync(target);
  },
};
