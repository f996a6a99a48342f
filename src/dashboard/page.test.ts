import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dashboardPage } from './page.js';

/** The text of every `<tag>…</tag>` element in the page. */
function inline(html: string, tag: 'script' | 'style'): string[] {
  return [...html.matchAll(new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
}

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The CSP as a map from directive name to its value. */
function directives(csp: string): Map<string, string> {
  return new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const space = d.indexOf(' ');
    return [d.slice(0, space), d.slice(space + 1)] as const;
  }));
}

describe('dashboardPage', () => {
  const { html, contentSecurityPolicy } = dashboardPage();

  it('has exactly one inline script and one inline style, allowed by their SHA-256 in the CSP', () => {
    const scripts = inline(html, 'script');
    const styles = inline(html, 'style');
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    const csp = directives(contentSecurityPolicy);
    expect(csp.get('script-src')).toBe(sha256Source(scripts[0]!));
    expect(csp.get('style-src')).toBe(sha256Source(styles[0]!));
  });

  it('has a strict policy: nothing by default, fetch to the same origin, no framing, no forms, no base', () => {
    const csp = directives(contentSecurityPolicy);
    expect([...csp.keys()].sort()).toEqual(
      ['base-uri', 'connect-src', 'default-src', 'form-action', 'frame-ancestors', 'img-src', 'script-src', 'style-src'],
    );
    expect(csp.get('default-src')).toBe("'none'");
    expect(csp.get('connect-src')).toBe("'self'");
    expect(csp.get('img-src')).toBe("'self' data:");
    expect(csp.get('base-uri')).toBe("'none'");
    expect(csp.get('form-action')).toBe("'none'");
    expect(csp.get('frame-ancestors')).toBe("'none'");
    expect(contentSecurityPolicy).not.toMatch(/unsafe|\*|https?:/);
  });

  it('loads nothing from elsewhere and has no inline event handlers', () => {
    const links = [...html.matchAll(/\s(?:src|href|action)\s*=\s*["']?([^"'\s>]*)/gi)].map((m) => m[1]!);
    expect(links).toEqual(['data:,']);
    expect(html).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(html).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/@import|url\(/i);
  });

  it('never parses data as HTML, and polls ./info without caching and with the credentials', () => {
    const script = inline(html, 'script')[0]!;
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(script).toContain("fetch('./info', { cache: 'no-store', credentials: 'same-origin'");
    expect(() => new Function(script)).not.toThrow(); // parses (does not run)
  });

  it('is a complete, accessible document with the stable hooks the tests and operators rely on', () => {
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('<title>clustershazbot dashboard</title>');
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('prefers-color-scheme:dark');
    for (const id of [
      'status', 'updated', 'banner', 'servers', 'base-url', 'cfg-probeIntervalMs', 'cfg-gossipIntervalMs', 'stat-exchanges',
      'count-online', 'count-suspect', 'count-offline', 'xchg-p99', 'xchg-detail', 'last-event', 'timeline', 'timeline-count',
      'state-panel', 'state-ready', 'state-sync', 'state-repairs', 'state-pushes', 'state-tombstones', 'state-store', 'state-maps', 'state-peers',
    ]) {
      expect(html.match(new RegExp(`id="${id}"`, 'g')), id).toHaveLength(1);
    }
    // Timeline: when, event, server, why; servers: server, state, monitor, version, last contact, exchanges;
    // state maps: map, keys, bytes, tombstones, rejected writes, changes; state peers: peer, lag.
    expect(html.match(/<th scope="col"[^>]*>/g)).toHaveLength(18);
    // The state panel shows only once an info view with a replicated state has arrived.
    expect(html).toMatch(/<section id="state-panel"[^>]* hidden>/);
  });

  it('styles only through classes and CSSOM properties: no style attribute, which the CSP would block', () => {
    const script = inline(html, 'script')[0]!;
    expect(html).not.toMatch(/<[^>]*\sstyle\s*=/i);
    expect(script).not.toMatch(/setAttribute\(\s*'style'|\.style\s*=|cssText/);
  });

  it('is the same on every call', () => {
    const again = dashboardPage();
    expect(again.html).toBe(html);
    expect(again.contentSecurityPolicy).toBe(contentSecurityPolicy);
  });
});
