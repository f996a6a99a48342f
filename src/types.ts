/**
 * The wire types of the clustershazbot seed README, exactly as written there.
 * Every message may carry further optional fields; a peer ignores fields it
 * does not know (see docs/protocol.md, "Compatibility").
 */

/** One server as it travels in a list. */
export interface GossipServer {
    baseUrl: string;  // typically: https://<server>:<port>/
    monitor: boolean;
    lastUpdate: number; // ms since epoch
}

/** The online and (optionally) offline servers. */
export interface ServerList {
    online: GossipServer[];
    offline?: GossipServer[];
}

/** Body of a gossip request and of its reply. */
export interface GossipMessage extends ServerList {
    message: 'gossip';
}

/** Body of a control request: take this server offline, or bring it back. */
export interface ControlMessage {
    message: 'control';
    online: boolean;
}
