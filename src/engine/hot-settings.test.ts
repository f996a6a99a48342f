import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../config.js';
import { hotSettings } from './hot-settings.js';

const base = { secret: 'gossip-secret-0123456789abcdef', controlSecret: 'control-secret-0123456789abcdef', masterListUrl: 'http://list.test/' };

describe('hotSettings', () => {
  it('engines with equal settings share one frozen object, whatever their base URL', () => {
    const a = hotSettings(resolveOptions({ ...base, baseUrl: 'http://a.test/' }));
    const b = hotSettings(resolveOptions({ ...base, baseUrl: 'http://b.test/' }));
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.secrets)).toBe(true);
    expect(Object.isFrozen(a.limits)).toBe(true);
    expect(a.secrets).toEqual(['gossip-secret-0123456789abcdef']);
  });

  it('any differing value gives its own object with its own values', () => {
    const a = hotSettings(resolveOptions({ ...base, baseUrl: 'http://a.test/' }));
    const rotated = hotSettings(resolveOptions({ ...base, baseUrl: 'http://a.test/', secret: 'new-secret-0123456789abcdef,gossip-secret-0123456789abcdef' }));
    const faster = hotSettings(resolveOptions({ ...base, baseUrl: 'http://a.test/', probeIntervalMs: 1_000, probeTimeoutMs: 200 }));
    expect(rotated).not.toBe(a);
    expect(rotated.secrets).toEqual(['new-secret-0123456789abcdef', 'gossip-secret-0123456789abcdef']);
    expect(faster).not.toBe(a);
    expect([faster.probeIntervalMs, faster.probeTimeoutMs]).toEqual([1_000, 200]);
    expect(a.probeIntervalMs).toBe(2_500);
  });
});
