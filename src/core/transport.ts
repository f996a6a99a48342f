/**
 * Outbound requests, as the engine sees them. The engine never calls `fetch`
 * itself: the real server uses {@link createHttpTransport}, the simulator an
 * in-memory network.
 */

/** One outbound request. */
export interface TransportRequest {
  readonly method: 'GET' | 'PUT' | 'POST';
  /** Absolute URL: `http:`, `https:` or (GET/PUT of a master list only) `file:`. */
  readonly url: string;
  /** Header names in lower case. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The request fails with a TransportError if no complete answer arrives within this many ms. */
  readonly timeoutMs: number;
  /** Answers with a body longer than this many bytes fail with a TransportError. */
  readonly maxResponseBytes: number;
}

/** The answer to a request that reached a server. Any status resolves; only I/O failures reject. */
export interface TransportResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends requests. Implementations reject only with a {@link TransportError}. */
export interface Transport {
  request(req: TransportRequest): Promise<TransportResponse>;
}

/** Why a request got no answer. */
export type TransportFailure = 'timeout' | 'network' | 'too-large' | 'unsupported';

/** A request that got no usable answer: refused, timed out, too large. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly kind: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
