import { systemClock } from '../core/system-clock.js';
import { answerError, requestJson, routeUrl } from './http.js';
import { byBaseUrl, parseInfoAnswer, parseListAnswer, type StatusReport } from './report.js';

/** Shown when the view lacks offline servers because no control secret was given. */
export const OFFLINE_NEEDS_SECRET =
  'offline servers are not shown: they need the control secret (set SHAZBOT_CONTROL_SECRET or pass --secret-stdin)';

/**
 * Asks the server at `base` what it knows. With the control secret: `GET info`,
 * or on a server that predates it (404) `GET list` with offline servers.
 * Without: the public `GET list`, online servers only.
 * Rejects with a CliError (exit 1 on an error answer or junk, 3 if unreachable).
 * @param timeoutMs per request.
 */
export async function fetchStatus(base: string, secret: string | undefined, timeoutMs: number): Promise<StatusReport> {
  if (secret !== undefined) {
    const url = routeUrl(base, 'info');
    const answer = await requestJson(url, { bearer: secret, timeoutMs });
    if (answer.status === 200) {
      const info = parseInfoAnswer(url, answer.body);
      return {
        url: base, source: 'info', offlineIncluded: true, now: info.now, servers: byBaseUrl(info.servers),
        ...(info.state !== undefined && { state: info.state }),
      };
    }
    if (answer.status !== 404) throw answerError(url, answer);
  }
  const url = routeUrl(base, 'list');
  const answer = await requestJson(url, { ...(secret !== undefined && { bearer: secret }), timeoutMs });
  if (answer.status !== 200) throw answerError(url, answer);
  const list = parseListAnswer(url, answer.body);
  const offlineIncluded = list.offline !== undefined;
  const note = secret === undefined
    ? OFFLINE_NEEDS_SECRET
    : offlineIncluded ? undefined : 'the server did not include offline servers: is the control secret right?';
  return {
    url: base,
    source: 'list',
    offlineIncluded,
    now: systemClock.now(),
    servers: byBaseUrl([...list.online, ...(list.offline ?? [])]),
    ...(note !== undefined && { note }),
  };
}
