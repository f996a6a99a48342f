/**
 * Which hosts may be gossiped. Gossip spreads base URLs that every server
 * then contacts; an allow-list bounds where those requests can go, so that
 * even a holder of the gossip secret cannot point the fleet at an internal
 * service (server-side request forgery). See docs/security.md.
 */

/** One allowed host: exact, or every subdomain of a suffix; optionally one port. */
interface HostPattern {
  /** Lower-case host (IPv6 in brackets), or the suffix after `*.`. */
  readonly host: string;
  readonly wildcard: boolean;
  /** A port, or undefined for any port. */
  readonly port: string | undefined;
}

/** `[*.]host[:port]`: ASCII (punycode) DNS names, IPv4, or IPv6 in brackets. */
const PATTERN = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

/** A compiled allow-list. Empty means every host is allowed. */
export class HostAllowList {
  readonly #patterns: readonly HostPattern[];

  private constructor(patterns: readonly HostPattern[]) {
    this.#patterns = patterns;
  }

  /**
   * Compiles patterns such as `app.internal`, `app.internal:3000`,
   * `*.svc.cluster.local`, `10.0.0.7`, `[fd00::1]:8080`. Returns the
   * problems instead of the list if any pattern is malformed.
   */
  static parse(patterns: readonly string[]): HostAllowList | { problems: string[] } {
    const problems: string[] = [];
    const out: HostPattern[] = [];
    for (const raw of patterns) {
      const p = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
      if (!PATTERN.test(p)) {
        problems.push(`allowedHosts: ${JSON.stringify(String(raw).slice(0, 80))} is not a host or host:port`);
        continue;
      }
      const wildcard = p.startsWith('*.');
      let url: URL;
      try {
        url = new URL(`http://${wildcard ? `x.${p.slice(2)}` : p}/`);
      } catch {
        problems.push(`allowedHosts: ${JSON.stringify(String(raw).slice(0, 80))} is not a host or host:port`);
        continue;
      }
      const hostPort = url.host;
      if (url.username !== '' || url.password !== '' || hostPort !== (wildcard ? `x.${p.slice(2)}` : p).replace(/:80$/, '')) {
        problems.push(`allowedHosts: ${JSON.stringify(String(raw).slice(0, 80))} is not a host or host:port`);
        continue;
      }
      const explicitPort = /:(\d+)$/.exec(p)?.[1];
      out.push({ host: wildcard ? url.hostname.slice(2) : url.hostname, wildcard, port: explicitPort });
    }
    return problems.length > 0 ? { problems } : new HostAllowList(out);
  }

  /** Whether the allow-list restricts anything. */
  get restricts(): boolean {
    return this.#patterns.length > 0;
  }

  /** Whether the host of `baseUrl` (a normalised http(s) URL) is allowed. */
  allows(baseUrl: string): boolean {
    if (this.#patterns.length === 0) return true;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      return false;
    }
    const host = url.hostname;
    const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    return this.#patterns.some((p) => (p.port === undefined || p.port === port) && (p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host));
  }
}
