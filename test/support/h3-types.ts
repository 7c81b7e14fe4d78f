/** What the HTTP/3 test clients (h3-client.ts, h3-browser.ts) take and answer. */

export interface H3Request {
  readonly method?: string;
  /** An https URL; the host is dialled as given (`localhost` is dialled as 127.0.0.1). */
  readonly url: string;
  /** Request headers; any makes the request go through Chromium (gtlsclient 0.12 cannot send them). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** PEM file of the CA the server certificate must chain to. Required unless `insecure`. */
  readonly caCertPath?: string;
  /** Skip the certificate check (the handshake and ALPN are still checked). */
  readonly insecure?: boolean;
  /** Whole-request deadline; gtlsclient is killed after it. Default 10 s. */
  readonly timeoutMs?: number;
  /** Which HTTP/3 stack: gtlsclient (ngtcp2) unless there are headers, then Chromium. */
  readonly client?: 'gtlsclient' | 'chromium';
}

export interface H3Response {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". No pseudo-headers. */
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly bodyBytes: Buffer;
  /** '3': the response came over HTTP/3, as gtlsclient's transcript shows. */
  readonly httpVersion: string;
  readonly alpn: string;
  /** Subject of the certificate the server presented in the QUIC handshake. */
  readonly certificateSubject: string;
  /** gtlsclient's stderr, for debugging a test (empty from Chromium). */
  readonly transcript: string;
}

/** A request that did not provably complete over HTTP/3; `transcript` is gtlsclient's stderr. */
export class H3RequestError extends Error {
  constructor(
    message: string,
    readonly transcript: string,
  ) {
    super(message);
    this.name = 'H3RequestError';
  }
}
