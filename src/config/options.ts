/**
 * The options of one cluster instance, each documented once with its unit,
 * default and trade-off, and the defaults themselves in one place.
 */
/**
 * Options of one cluster instance. Times are in milliseconds; the unit is in
 * every name. Only `baseUrl`, `secret`, `controlSecret` and `masterListUrl`
 * are required; everything else has the default shown.
 */
export interface ClusterOptions {
  /** This server's own base URL, e.g. `https://10.0.0.7:3000/`. Peers reach it at `<baseUrl>clustershazbot/gossip`. */
  baseUrl: string;
  /**
   * Gossip secret(s) (`SHAZBOT_SECRET`). A comma-separated string or an array:
   * the first signs, any verifies, so keys can be rotated. Never sent on the wire.
   * Each key: printable ASCII without spaces or commas, at least 16 characters
   * (any non-empty length with `legacyAuth`, with a warning at start).
   */
  secret: string | readonly string[];
  /** Control secret(s) (`SHAZBOT_CONTROL_SECRET`), presented as `Authorization: Bearer <secret>`. Same rotation and key rules. */
  controlSecret: string | readonly string[];
  /** Where the master server list is read at start and before each announce: `http(s)://` or `file://`. */
  masterListUrl: string;
  /** Where the merged list is written on each announce (`PUT`). Without it, this server never writes the master list. */
  masterListUpdateUrl?: string;
  /** Sent verbatim as the `Authorization` header of the announce `PUT`. Never logged. */
  masterListUpdateAuth?: string;
  /**
   * Mean time between two anti-entropy exchanges of this server (`SHAZBOT_GOSSIP_INTERVAL`, there in seconds).
   * Anti-entropy repairs whatever dissemination missed: it compares table digests and
   * sends whole lists only where they differ. Shorter repairs sooner, at the cost of
   * one digest exchange (about 560 bytes) per interval per server at rest. @default 30_000
   */
  gossipIntervalMs?: number;
  /** Each gossip delay is `gossipIntervalMs × (1 ± gossipJitter)`, uniformly, so servers do not move in lockstep. @default 0.2 */
  gossipJitter?: number;
  /** Minimum delay before each master-list announce (`SHAZBOT_MASTER_ANNOUNCE_MINIMUM`, there in seconds). @default 300_000 */
  masterAnnounceMinimumMs?: number;
  /** Random extra delay added to the minimum, uniformly in [0, this] (`SHAZBOT_MASTER_ANNOUNCE_INTERVAL`). @default 600_000 */
  masterAnnounceIntervalMs?: number;
  /** Whether this server is a monitor: preferred as a gossip partner and always told at start and shutdown (`SHAZBOT_MONITOR`). @default false */
  monitor?: boolean;
  /** Write the master list during shutdown, so it learns of the departure at once (`SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN`). @default false */
  updateMasterListOnShutdown?: boolean;
  /** Time limit of one gossip exchange (request and reply). @default 5_000 */
  exchangeTimeoutMs?: number;
  /** Time limit of one master-list GET or PUT. @default 5_000 */
  masterListTimeoutMs?: number;
  /** First delay between background retries of the master-list download after a failed start; doubles up to the maximum. @default 1_000 */
  bootstrapRetryMinMs?: number;
  /** Largest delay between background retries of the master-list download. @default 60_000 */
  bootstrapRetryMaxMs?: number;
  /**
   * Random servers contacted at start and at shutdown, besides every monitor;
   * dissemination takes the news on from there. Each start exchange carries
   * the new server's own entry. More costs a starting server more work: with
   * 20, a fleet of 30 processes started together on 2 cores converged 0.85 to
   * 1.44 s after the last was up, with 5 in 0.52 to 0.88 s (npm run bench:peers, 6 runs). @default 5
   */
  fanout?: number;
  /** Upper bound on the whole of `shutdown()`, however peers behave. @default 5_000 */
  shutdownTimeoutMs?: number;
  /** Offline entries whose version is older than this are removed (the seed's "24 hours"). @default 86_400_000 */
  maxOfflineAgeMs?: number;
  /**
   * A signed request or reply whose timestamp is further than this from local time is refused.
   * This is also the largest clock difference two servers may have and still talk. @default 300_000
   */
  signatureWindowMs?: number;
  /** Nonces remembered against replays; when full the oldest are dropped and the window floor rises. @default 100_000 */
  replayCacheSize?: number;
  /** Most entries (online + offline) accepted in one message or master list. @default 20_000 */
  maxEntries?: number;
  /** Longest accepted `baseUrl`, in characters. @default 1_024 */
  maxUrlLength?: number;
  /** An entry whose `lastUpdate` is more than this ahead of local time is refused as malformed. @default 3_600_000 */
  maxFutureMs?: number;
  /** Largest reply body accepted from a peer or the master list, in bytes. @default 16_777_216 */
  maxResponseBytes?: number;
  /**
   * Membership events (up, suspect, down, left, operator offline/online) kept
   * for the info view and the dashboard's timeline; older ones are dropped.
   * 0 keeps none. @default 256
   */
  timelineSize?: number;
  /**
   * Most peers whose recent exchanges (latency, p99, failures over the last five
   * minutes, up to 64 exchanges each) are kept for the info view and the
   * dashboard; the least recently contacted is dropped first. At rest with the
   * default periods a server starts about 130 exchanges in five minutes (120
   * probe periods, 10 anti-entropy rounds), so at rest it tracks at most that
   * many peers whatever the fleet's size; churn adds pushes. 0 keeps none. @default 1_024
   */
  exchangeStatsPeers?: number;
  /** Weight of each online monitor against 1 for any other server when choosing a gossip partner (capped at half of all choices). @default 8 */
  monitorWeight?: number;
  /**
   * Failure-detection period: each server probes one member per period, and a
   * shared rotating schedule (the probe ring) has every member probed by one
   * server per period. Shorter detects sooner at the cost of one small signed
   * exchange per server per period (about 890 bytes on the wire, IP level,
   * request, reply and ACK over a kept-alive connection, with the Express
   * example's reply headers: see BENCHMARKS.md, bench:peers).
   * @default 2_500
   */
  probeIntervalMs?: number;
  /** How long a direct probe waits for its answer before the indirect probes start. Must exceed the round-trip time. @default 500 */
  probeTimeoutMs?: number;
  /** Members asked to probe a target that missed its direct probe (SWIM's k). 0 disables indirect probes. @default 3 */
  indirectProbes?: number;
  /** How long indirect probes may take (two hops each way). @default 1_000 */
  indirectProbeTimeoutMs?: number;
  /**
   * Lifeguard suspicion timeout: at least `suspicionMult × max(1, log10(n)) × probeIntervalMs`
   * (n = members up), starting `suspicionMaxMult` times higher and shrinking as
   * independent confirmations arrive. Larger values trade detection time for
   * fewer false positives under loss or pauses. At the default a suspicion
   * lasts at least 2 s up to 10 servers, 2.95 s at 30, 4 s at 100 (memberlist's
   * LAN profile: 4 s, 5.9 s, 8 s): a process stalled longer than that plus
   * the 1 to 3.5 s it takes to be suspected is declared failed, and rejoins
   * by refuting the claim as soon as it runs again. @default 0.8
   */
  suspicionMult?: number;
  /** Upper bound of the suspicion timeout as a multiple of its minimum (no confirmations yet). @default 3 */
  suspicionMaxMult?: number;
  /** Independent confirmations after which the suspicion timeout reaches its minimum (Lifeguard's K). @default 3 */
  expectedConfirmations?: number;
  /** Lifeguard local health: probe timings stretch up to this factor when this server sees signs of its own slowness. @default 8 */
  awarenessMax?: number;
  /** Each change is retransmitted `retransmitMult × ceil(log10(n + 1))` times (memberlist's RetransmitMult). @default 4 */
  retransmitMult?: number;
  /** While changes wait to be retransmitted, they are pushed every this many ms. @default 200 */
  gossipTickMs?: number;
  /** Servers each push goes to. @default 3 */
  pushFanout?: number;
  /** Most changes carried by one message. @default 32 */
  maxPiggyback?: number;
  /**
   * Push changes at once and piggyback them on probes. Turning it off leaves
   * only periodic anti-entropy to spread changes (for measurement). @default true
   */
  pushChanges?: boolean;
  /**
   * Hosts whose base URLs may be gossiped (`SHAZBOT_ALLOWED_HOSTS`, comma-separated):
   * `app.internal`, `app.internal:3000`, `*.svc.cluster.local`, `10.0.0.7`, `[fd00::1]:8080`.
   * Entries for any other host are dropped wherever they come from (gossip or
   * master list) and never contacted, which bounds where a holder of the gossip
   * secret could make the fleet send requests (see docs/security.md). This
   * server's own base URL must be allowed. @default [] (every host)
   */
  allowedHosts?: readonly string[];
  /**
   * 1.x compatibility for rolling upgrades (`SHAZBOT_LEGACY_AUTH`): also accept
   * gossip authorised by the raw gossip secret with unsigned seed-format bodies
   * (answered unsigned), control and offline-list requests authorised by the
   * raw control secret, and speak that format to peers that refuse signed
   * requests. 1.x sends the secret in plain text: use it only during the
   * upgrade, over TLS. Logs a warning at start. Also accepts the fleet's
   * existing keys shorter than 16 characters (1.x took any length), with a
   * second warning at start naming them (see secret-strength.ts). @default false
   */
  legacyAuth?: boolean;
  /**
   * A directory where the replicated state (`cluster.state`) keeps its maps
   * and counters (`SHAZBOT_STATE_DIR`): a restarted server restores them and
   * its replica identity, then syncs only what it missed. Created if
   * missing; one live process per directory. Empty: memory only (a restart
   * syncs everything again). See docs/state.md. @default ''
   */
  stateDir?: string;
}

/** Options with every default filled in and every secret split into a list. */
export interface ResolvedConfig extends Required<Omit<ClusterOptions, 'secret' | 'controlSecret' | 'masterListUpdateUrl' | 'masterListUpdateAuth'>> {
  readonly secrets: readonly string[];
  readonly controlSecrets: readonly string[];
  readonly masterListUpdateUrl: string | undefined;
  readonly masterListUpdateAuth: string | undefined;
}

/** The defaults of every optional setting, in one place. */
export const DEFAULTS = {
  gossipIntervalMs: 30_000,
  gossipJitter: 0.2,
  masterAnnounceMinimumMs: 300_000,
  masterAnnounceIntervalMs: 600_000,
  monitor: false,
  updateMasterListOnShutdown: false,
  exchangeTimeoutMs: 5_000,
  masterListTimeoutMs: 5_000,
  bootstrapRetryMinMs: 1_000,
  bootstrapRetryMaxMs: 60_000,
  fanout: 5,
  shutdownTimeoutMs: 5_000,
  maxOfflineAgeMs: 86_400_000,
  signatureWindowMs: 300_000,
  replayCacheSize: 100_000,
  maxEntries: 20_000,
  maxUrlLength: 1_024,
  maxFutureMs: 3_600_000,
  maxResponseBytes: 16_777_216,
  timelineSize: 256,
  exchangeStatsPeers: 1_024,
  monitorWeight: 8,
  probeIntervalMs: 2_500,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  indirectProbeTimeoutMs: 1_000,
  suspicionMult: 0.8,
  suspicionMaxMult: 3,
  expectedConfirmations: 3,
  awarenessMax: 8,
  retransmitMult: 4,
  gossipTickMs: 200,
  pushFanout: 3,
  maxPiggyback: 32,
  pushChanges: true,
  allowedHosts: [] as readonly string[],
  legacyAuth: false,
  stateDir: '',
} as const satisfies Required<Omit<ClusterOptions, 'baseUrl' | 'secret' | 'controlSecret' | 'masterListUrl' | 'masterListUpdateUrl' | 'masterListUpdateAuth'>>;
