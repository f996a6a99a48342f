/**
 * Sending one gossip exchange and acting on its reply: signed (the normal
 * case), or 1.x style with a peer that refused signed requests
 * (`legacyAuth` only). Every send path of the engine (probes, pushes,
 * anti-entropy, introductions, leave) ends here.
 */
import { safeLog } from '../core/logger.js';
import type { TransportResponse } from '../core/transport.js';
import { endpointUrl } from '../membership/url.js';
import { canonicalJson } from '../protocol/canonical-json.js';
import { makeNonce, signRequestCanonical, verifyReply } from '../protocol/signature.js';
import { parseGossipExtras, parseGossipMessage, toServerList, type GossipExtras } from '../protocol/validate.js';
import type { EngineCore } from './core.js';
import type { DirectExchange } from './extension-runtime.js';
import type { Merger } from './merger.js';
import type { Outgoing } from './ports.js';

/** Sends gossip exchanges. */
export class GossipSender {
  constructor(
    private readonly core: EngineCore,
    private readonly merger: Merger,
  ) {}

  /**
   * One exchange: signed, or 1.x style with a peer that refused signed
   * requests (`legacyAuth` only; such a peer is retried signed if it starts
   * refusing 1.x requests, as it will once upgraded with legacy mode off).
   * Never throws; resolves the reply's extras, or undefined if it failed.
   */
  send(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | undefined> {
    // Without legacyAuth a signed exchange is never 'refused' (see #sendSigned).
    if (!this.core.hot.legacyAuth) return this.#sendSigned(peer, out, timeoutMs, undefined) as Promise<GossipExtras | undefined>;
    return this.#sendLegacyAware(peer, out, timeoutMs, undefined);
  }

  /**
   * {@link send} for an extension's `host.exchange`: the request carries only
   * `direct`'s section, and the peer's answer to it is set on `direct`
   * rather than handed to that extension's `onReply`.
   */
  sendDirect(peer: string, out: Outgoing, timeoutMs: number, direct: DirectExchange): Promise<GossipExtras | undefined> {
    if (!this.core.hot.legacyAuth) return this.#sendSigned(peer, out, timeoutMs, direct) as Promise<GossipExtras | undefined>;
    return this.#sendLegacyAware(peer, out, timeoutMs, direct);
  }

  async #sendLegacyAware(peer: string, out: Outgoing, timeoutMs: number, direct: DirectExchange | undefined): Promise<GossipExtras | undefined> {
    const v1Peers = this.core.v1Peers;
    const v1 = v1Peers.has(peer);
    const first = v1 ? await this.#sendV1(peer, timeoutMs) : await this.#sendSigned(peer, out, timeoutMs, direct);
    if (first !== 'refused') return first;
    if (v1) v1Peers.delete(peer);
    else v1Peers.add(peer);
    const second = v1 ? await this.#sendSigned(peer, out, timeoutMs, direct) : await this.#sendV1(peer, timeoutMs);
    if (second === 'refused') {
      v1Peers.delete(peer);
      return undefined;
    }
    return second;
  }

  /**
   * A 1.x exchange: the whole list, unsigned, authorised by the raw gossip
   * secret (what 1.x expects), and an unsigned seed-format answer. 'refused'
   * on a 401 or 403.
   */
  async #sendV1(peer: string, timeoutMs: number): Promise<GossipExtras | 'refused' | undefined> {
    const core = this.core;
    const t = core.clock.now();
    core.stats.exchanges++;
    try {
      const text = JSON.stringify({ message: 'gossip', ...toServerList(core.table.entries()) });
      const res = await this.#post(endpointUrl(peer, 'gossip'), text, core.config.secrets[0]!, timeoutMs);
      if (res.status === 401 || res.status === 403) {
        core.observeExchange(peer, core.clock.now() - t, false);
        return 'refused';
      }
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      const now = core.clock.now();
      this.merger.merge(parseGossipMessage(JSON.parse(res.body), now, core.limits), this.merger.passOnWholeLists());
      core.legacyPeers.add(peer);
      core.lastContact.set(peer, now);
      core.observeExchange(peer, now - t, true);
      return { digest: undefined, ping: false, probe: undefined, probeOk: undefined, full: true, buckets: undefined, want: undefined };
    } catch (e) {
      core.stats.exchangeFailures++;
      core.observeExchange(peer, core.clock.now() - t, false);
      safeLog(core.log, 'debug', '1.x exchange failed', { peer, error: e });
      return undefined;
    }
  }

  /**
   * One signed exchange. Never throws; 'refused' on a 401 if `legacyAuth` is
   * on (the peer may be 1.x). With extensions registered, the request
   * carries their `ext` field and the reply's goes to them.
   */
  async #sendSigned(peer: string, out: Outgoing, timeoutMs: number, direct: DirectExchange | undefined): Promise<GossipExtras | 'refused' | undefined> {
    const core = this.core;
    const ext = core.ext;
    const kind = out.kind ?? 'direct';
    const target = endpointUrl(peer, 'gossip');
    // Keys in canonical (sorted) order, which lets canonicalJson take its fast path.
    const list = toServerList(out.entries === 'full' ? core.table.entries() : out.entries);
    const body: Record<string, unknown> = {};
    if (out.digest) body['digest'] = core.digest.toString();
    // Without extensions the body is exactly what it was before they existed.
    if (ext !== undefined) {
      const field = ext.requestField(kind, peer, direct);
      if (field !== undefined) body['ext'] = field;
    }
    if ((out.entries === 'full' && (out.ping || out.digest)) || out.want !== undefined) body['full'] = true;
    body['message'] = 'gossip';
    body['offline'] = list.offline;
    body['online'] = list.online;
    if (out.ping) body['ping'] = true;
    if (out.probe !== undefined) body['probe'] = out.probe;
    if (out.want !== undefined) body['want'] = out.want;
    const t = core.clock.now();
    const nonce = makeNonce(core.random);
    core.stats.exchanges++;
    try {
      // The canonical text is both what is signed and what is sent, so the receiver can check the bytes it got.
      const text = canonicalJson(body);
      const res = await this.#post(target, text, signRequestCanonical(core.hot.secrets[0]!, target, text, t, nonce), timeoutMs);
      if (core.hot.legacyAuth && res.status === 401) {
        core.observeExchange(peer, core.clock.now() - t, false);
        return 'refused';
      }
      // Any 2xx: a Nest @Post() answers 201.
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      let reply: unknown;
      try {
        reply = JSON.parse(res.body);
      } catch {
        throw new Error('reply is not JSON');
      }
      const signed = verifyReply(core.hot.secrets, target, nonce, reply, res.body);
      if (signed === undefined) {
        core.stats.signatureRejections++;
        throw new Error('reply signature invalid');
      }
      const now = core.clock.now();
      if (Math.abs(now - signed.t) > core.hot.signatureWindowMs) throw new Error('reply timestamp outside the signature window');
      const entries = parseGossipMessage(reply, now, core.limits);
      const extras = parseGossipExtras(reply, core.limits);
      if (extras.digest === undefined) core.legacyPeers.add(peer);
      else if (core.legacyPeers.size > 0) core.legacyPeers.delete(peer);
      this.merger.merge(entries, extras.full || extras.digest === undefined ? this.merger.passOnWholeLists() : true);
      if (ext !== undefined) ext.onReply(reply as Record<string, unknown>, peer, kind, direct);
      // Probes and pushes compare digests for free; an anti-entropy exchange acts on its own comparison.
      if (extras.digest !== undefined && !out.digest) core.lastDigestCheck = { at: now, peer, same: extras.digest === core.digest.toString() };
      core.lastContact.set(peer, now);
      core.observeExchange(peer, now - t, true);
      return extras;
    } catch (e) {
      core.stats.exchangeFailures++;
      core.observeExchange(peer, core.clock.now() - t, false);
      safeLog(core.log, 'debug', 'exchange failed', { peer, error: e });
      return undefined;
    }
  }

  /** POSTs a JSON `text` to a gossip endpoint with `authorization`, within `timeoutMs`, counting the payload bytes both ways. */
  async #post(url: string, text: string, authorization: string, timeoutMs: number): Promise<TransportResponse> {
    const core = this.core;
    core.stats.bytesOut += Buffer.byteLength(text);
    const res = await core.withTimeout(core.transport.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization },
      body: text,
      timeoutMs,
      maxResponseBytes: core.hot.maxResponseBytes,
    }), timeoutMs);
    core.stats.bytesIn += Buffer.byteLength(res.body);
    return res;
  }
}
