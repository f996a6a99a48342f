import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { chooseSessionSecret, operatorInstructions, shellQuote } from './session.js';

const base = 'http://127.0.0.1:4321/';

describe('the demo session secret and instructions', () => {
  it('generates a base64url secret unless SHAZBOT_CONTROL_SECRET is set and not empty', () => {
    const a = chooseSessionSecret({});
    expect(a.generated).toBe(true);
    expect(a.value).toMatch(/^[\w-]{32}$/);
    expect(chooseSessionSecret({}).value).not.toBe(a.value);
    expect(chooseSessionSecret({ SHAZBOT_CONTROL_SECRET: '' }).generated).toBe(true);
    expect(chooseSessionSecret({ SHAZBOT_CONTROL_SECRET: 'mine' })).toEqual({ value: 'mine', generated: false });
  });

  it('with a generated secret: the dashboard URL, the password, and a status command with the CLI path relative to cwd', () => {
    const lines = operatorInstructions({ secret: { value: 'S3cr-t_', generated: true }, base, cliEntry: '/repo/dist/esm/cli/main.js', cwd: '/repo' });
    const text = lines.join('\n');
    expect(text).toMatch(/^Dashboard: http:\/\/127\.0\.0\.1:4321\/clustershazbot\/dashboard$/m);
    expect(text).toMatch(/password: S3cr-t_(\s|$)/m);
    expect(text).toMatch(/^Status: +SHAZBOT_CONTROL_SECRET=S3cr-t_ node dist\/esm\/cli\/main\.js status http:\/\/127\.0\.0\.1:4321\/$/m);
    const installed = operatorInstructions({ secret: { value: 'x', generated: true }, base, cliEntry: '/app/node_modules/clustershazbot/dist/esm/cli/main.js', cwd: '/app' });
    expect(installed.join('\n')).toContain('node node_modules/clustershazbot/dist/esm/cli/main.js status ');
  });

  it('with a preset secret: never the secret, and no inline assignment', () => {
    const text = operatorInstructions({ secret: { value: 'preset-value', generated: false }, base, cliEntry: '/repo/dist/esm/cli/main.js', cwd: '/repo' }).join('\n');
    expect(text).not.toContain('preset-value');
    expect(text).not.toContain('password:');
    expect(text).toContain('the password is your SHAZBOT_CONTROL_SECRET');
    expect(text).toMatch(/^Status: +node dist\/esm\/cli\/main\.js status http:\/\/127\.0\.0\.1:4321\/$/m);
  });

  it('quotes a path for a POSIX shell only when needed', () => {
    expect(shellQuote('dist/esm/cli/main.js')).toBe('dist/esm/cli/main.js');
    for (const word of ["my dir/it's $HOME/main.js", 'a;b', '*']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(word)}`], { encoding: 'utf8' })).toBe(word);
    }
  });
});
