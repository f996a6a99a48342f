/**
 * The engine's request handlers: gossip (signed, or 1.x with `legacyAuth`),
 * the server list, control, and the authentication of each. A gossip
 * request may ask this server to probe another on its behalf.
 */
import { safeLog } from '../core/logger.js';
import { NotStartedError, UnauthorizedError } from '../errors.js';
import type { MemberEntry } from '../membership/entry.js';
import { canonicalJson } from '../protocol/canonical-json.js';
import {
  checkBearer, checkControlAuthorization, makeNonce, parseSignedHeader, signReplySized, verifyRequestCanonical, type SignedParams,
} from '../protocol/signature.js';
import { parseControlMessage, parseGossipExtras, parseGossipMessage, toServerList } from '../protocol/validate.js';
import type { ControlMessage, GossipMessage, ServerList } from '../types.js';
import { BUCKET_SYNC_MIN_ENTRIES, entriesInBuckets } from './anti-entropy.js';
import type { DesiredSelf, EngineCore } from './core.js';
import type { GossipSender } from './gossip-sender.js';
import type { Merger } from './merger.js';

/** Answers the requests peers, operators and load balancers send. */
export class GossipReceiver {
  constructor(
    private readonly core: EngineCore,
    private readonly merger: Merger,
    private readonly sender: GossipSender,
  ) {}

  async handleGossipWire(authorization: string, body: unknown, raw?: string): Promise<{ reply: GossipMessage; text: string }> {
    const core = this.core;
    this.#assertServing();
    if (core.hot.legacyAuth && isRawSecret(authorization, core.hot.secrets)) return this.#handleV1Gossip(body, raw);
    let header: SignedParams;
    try {
      header = this.#authenticateGossip(authorization, body, raw);
    } catch (e) {
      if (e instanceof UnauthorizedError) core.stats.signatureRejections++;
      throw e;
    }
    const now = core.clock.now();
    const entries = parseGossipMessage(body, now, core.limits);
    const extras = parseGossipExtras(body, core.limits);
    // A message without any of our optional fields comes from a seed-format
    // peer: it sent its whole list and expects ours.
    const seedFormat = !extras.ping && extras.digest === undefined && extras.probe === undefined;
    const corrections = this.merger.merge(entries, seedFormat || extras.full || extras.want !== undefined ? this.merger.passOnWholeLists() : true);
    const probeOk = extras.probe === undefined ? undefined : await this.#probeFor(extras.probe);
    // The extensions' part: only with extensions registered, and only if the request has one too.
    const ext = core.ext === undefined ? undefined : core.ext.onRequest(body as Record<string, unknown>);
    const mine = core.digest.toString();
    const differs = extras.digest !== undefined && extras.digest !== mine;
    // Whole lists for seed-format peers and small tables; bucket digests for large ones.
    const bucketed = differs && core.table.size >= BUCKET_SYNC_MIN_ENTRIES;
    const full = seedFormat || (differs && !bucketed);
    let answer: MemberEntry[];
    if (full) answer = core.table.entries();
    else if (extras.want !== undefined) answer = entriesInBuckets(core.table, extras.want);
    else answer = [...corrections, ...core.dissemination.take(entries)];
    // Keys in canonical (sorted) order, which lets canonicalJson take its fast path.
    const list = toServerList(answer);
    const reply: Record<string, unknown> = {};
    if (bucketed) reply['buckets'] = core.digest.buckets();
    reply['digest'] = mine;
    if (ext !== undefined) reply['ext'] = ext;
    if (full || extras.want !== undefined) reply['full'] = true;
    reply['message'] = 'gossip';
    reply['offline'] = list.offline;
    reply['online'] = list.online;
    if (probeOk !== undefined) reply['probeOk'] = probeOk;
    const signed = signReplySized(core.hot.secrets[0]!, core.gossipUrl, header.n, reply, core.clock.now(), makeNonce(core.random));
    core.stats.bytesOut += signed.bytes;
    return { reply: signed.reply as unknown as GossipMessage, text: signed.text };
  }

  /**
   * A 1.x request (`legacyAuth` only): authorised by the raw gossip secret,
   * an unsigned seed-format body, answered with this server's whole list,
   * unsigned, as 1.x expects. Entries are validated like any others.
   */
  #handleV1Gossip(body: unknown, raw: string | undefined): { reply: GossipMessage; text: string } {
    const core = this.core;
    const entries = parseGossipMessage(body, core.clock.now(), core.limits);
    core.stats.bytesIn += raw === undefined ? Buffer.byteLength(JSON.stringify(body)) : Buffer.byteLength(raw);
    this.merger.merge(entries, this.merger.passOnWholeLists());
    const reply: GossipMessage = { message: 'gossip', ...toServerList(core.table.entries()) };
    const text = JSON.stringify(reply);
    core.stats.bytesOut += Buffer.byteLength(text);
    return { reply, text };
  }

  /** The control secret as `Bearer <secret>`, or verbatim (1.x) with `legacyAuth`. */
  #isControlAuthorized(authorization: string): boolean {
    if (typeof authorization !== 'string') return false;
    const config = this.core.config;
    return checkBearer(authorization, config.controlSecrets) || (config.legacyAuth && isRawSecret(authorization, config.controlSecrets));
  }

  /**
   * Checks a gossip request's signature, timestamp and nonce; returns its
   * signed parameters. Throws UnauthorizedError (or MalformedError for a
   * body no peer could have signed).
   */
  #authenticateGossip(authorization: string, body: unknown, raw: string | undefined): SignedParams {
    const core = this.core;
    if (typeof authorization !== 'string' || authorization === '') throw new UnauthorizedError('missing signature');
    const header = parseSignedHeader(authorization);
    const now = core.clock.now();
    if (Math.abs(now - header.t) > core.hot.signatureWindowMs) throw new UnauthorizedError('stale signature timestamp');
    // The received text, when it is what the peer signed (this implementation
    // sends the canonical text); otherwise the canonical form of the parsed body.
    if (typeof raw === 'string' && verifyRequestCanonical(core.hot.secrets, core.gossipUrl, raw, header)) {
      core.stats.bytesIn += Buffer.byteLength(raw);
    } else {
      const canonical = canonicalJson(body);
      core.stats.bytesIn += Buffer.byteLength(canonical);
      if (!verifyRequestCanonical(core.hot.secrets, core.gossipUrl, canonical, header)) throw new UnauthorizedError('invalid signature');
    }
    const seen = core.replay.check(header.t, header.n, now);
    if (seen === 'replayed') throw new UnauthorizedError('replayed request', 'REPLAYED');
    if (seen === 'stale') throw new UnauthorizedError('stale signature timestamp');
    return header;
  }

  async handleList(authorization: string): Promise<ServerList> {
    this.#assertServing();
    const list = toServerList(this.core.table.entries());
    if (authorization === undefined || authorization === null || authorization === '') return { online: list.online };
    if (!this.#isControlAuthorized(authorization)) {
      this.core.stats.signatureRejections++;
      throw new UnauthorizedError('invalid control authorization');
    }
    return list;
  }

  async handleControl(authorization: string, body: unknown): Promise<void> {
    const core = this.core;
    this.#assertServing();
    if (!this.#isControlAuthorized(authorization)) {
      core.stats.signatureRejections++;
      throw new UnauthorizedError('invalid control authorization');
    }
    const { online } = parseControlMessage(body as ControlMessage);
    if (core.status === 'stopping') throw new NotStartedError('shutting down', 'STOPPED');
    const want: DesiredSelf = online ? { state: 'online' } : { state: 'offline', reason: 'admin' };
    if (want.state === core.desired.state && want.reason === core.desired.reason) return;
    core.desired = want;
    const self = this.merger.assertSelf();
    safeLog(core.log, 'info', online ? 'operator brought this server online' : 'operator took this server offline', { version: self.lastUpdate });
  }

  /** Checks the control secret of `GET /clustershazbot/info` (Bearer, or Basic with it as password); throws UnauthorizedError. */
  authorizeInfo(authorization: string): void {
    if (typeof authorization !== 'string' || !checkControlAuthorization(authorization, this.core.config.controlSecrets)) {
      // A browser's first request carries no credentials: only a wrong secret counts.
      if (authorization !== '') this.core.stats.signatureRejections++;
      throw new UnauthorizedError('invalid control authorization');
    }
  }

  #assertServing(): void {
    const status = this.core.status;
    if (status === 'idle') throw new NotStartedError();
    if (status === 'stopped') throw new NotStartedError('clustershazbot has shut down', 'STOPPED');
  }

  /**
   * Probes `target` on a peer's behalf. Only a member this server itself
   * lists as up is ever contacted: a URL in a request never makes this server
   * send anything to an address it did not already trust.
   */
  async #probeFor(target: string): Promise<boolean> {
    const core = this.core;
    if (target === core.baseUrl) return true;
    const entry = core.table.get(target);
    if (entry === undefined || entry.state === 'offline') return false;
    const reply = await this.sender.send(target, { entries: core.dissemination.take(), ping: true, kind: 'probe' }, core.config.probeTimeoutMs);
    return reply !== undefined;
  }
}

/** Whether `authorization` is one of `secrets` verbatim (1.x style), compared in constant time. */
function isRawSecret(authorization: string, secrets: readonly string[]): boolean {
  return typeof authorization === 'string' && authorization !== '' && checkBearer(`Bearer ${authorization}`, secrets);
}
