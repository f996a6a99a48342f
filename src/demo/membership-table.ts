/**
 * The demo's membership table: asks every demo server whom it sees
 * (`GET clustershazbot/list` with the control secret, offline servers
 * included) and renders the answers as rows (servers) by columns (viewers).
 */

/** A server of the demo as the table needs it. */
export interface TableServer {
  readonly name: string;
  readonly base: string;
  /** The process has exited: it is not asked. */
  readonly exited: boolean;
}

/** What each server reports seeing: base URL -> state, or undefined if it did not answer. */
export type Views = Map<string, Map<string, 'online' | 'offline'> | undefined>;

/** Asks every live server for its list, in parallel; one second per request at most, or until `signal` aborts. */
export async function pollViews(servers: readonly TableServer[], controlSecret: string, signal: AbortSignal): Promise<Views> {
  const views: Views = new Map();
  await Promise.all(servers.map(async (s) => {
    if (s.exited) {
      views.set(s.base, undefined);
      return;
    }
    try {
      const res = await fetch(`${s.base}clustershazbot/list`, {
        headers: { authorization: `Bearer ${controlSecret}` },
        signal: AbortSignal.any([AbortSignal.timeout(1_000), signal]),
      });
      if (!res.ok) throw new Error(String(res.status));
      const list = (await res.json()) as { online: Array<{ baseUrl: string }>; offline?: Array<{ baseUrl: string }> };
      const view = new Map<string, 'online' | 'offline'>();
      for (const e of list.online) view.set(e.baseUrl, 'online');
      for (const e of list.offline ?? []) view.set(e.baseUrl, 'offline');
      views.set(s.base, view);
    } catch {
      views.set(s.base, undefined);
    }
  }));
  return views;
}

/** Rows: servers; columns: what each server sees. ● online, ○ offline, · unknown; a dead viewer's column is ×. */
export function renderTable(servers: readonly TableServer[], views: Views): string {
  const header = ['server'.padEnd(26), ...servers.map((s) => `${s.name} sees`.padEnd(8))].join(' ');
  const rows = servers.map((row) => {
    const cells = servers.map((viewer) => {
      const v = views.get(viewer.base);
      const mark = v === undefined ? '×' : v.get(row.base) === 'online' ? '●' : v.get(row.base) === 'offline' ? '○' : '·';
      return mark.padEnd(8);
    });
    return [`${row.name} ${row.base}`.padEnd(26), ...cells].join(' ');
  });
  return [header, ...rows, '● online  ○ offline  · unknown  × not answering'].join('\n');
}
