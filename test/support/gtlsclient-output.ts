/**
 * Reads what Debian's `gtlsclient` (ngtcp2-client 0.12) prints on stderr when
 * it runs without --quiet: the QUIC handshake, the negotiated ALPN, the
 * response headers, and the hex dumps of CRYPTO frames, from which the
 * server's certificate chain is taken (gtlsclient itself verifies nothing).
 *
 * Lines it relies on, as that version prints them:
 *   QUIC handshake has completed
 *   Negotiated ALPN is h3
 *   http: stream 0x0 [:status: 200]
 *   http: stream 0x0 [content-type: application/json]
 *   Ordered CRYPTO data in Handshake crypto level
 *   00000000  08 00 00 75 00 73 00 10  00 05 00 03 02 68 33 00  |...u.s.......h3.|
 *   *                                      (the line above repeats)
 *   000002ce                               (the dump's length)
 *   HTTP stream 0 closed with error code 256
 */

export interface GtlsclientTranscript {
  readonly handshakeCompleted: boolean;
  /** The ALPN the server chose, or undefined when none was negotiated. */
  readonly alpn: string | undefined;
  /** Response headers of the first request stream, pseudo-headers included, in order. */
  readonly headerLines: readonly (readonly [string, string])[];
  /** `:status`, when the response headers arrived. */
  readonly status: number | undefined;
  /** The server's certificate chain (DER), leaf first, from the TLS Certificate message. */
  readonly certificates: readonly Buffer[];
  /** The application error code the first request stream closed with (0x100 is H3_NO_ERROR). */
  readonly streamCloseCode: number | undefined;
}

const HEADER_LINE = /^http: stream 0x0 \[(:?[^:]+): (.*)\]$/;
const HEX_LINE = /^([0-9a-f]{8}) {2}((?:[0-9a-f]{2} {1,2})+) *\|/;
const HEX_END = /^([0-9a-f]{8})$/;
const STREAM_CLOSED = /^HTTP stream 0 closed with error code (\d+)$/;

/** Parses gtlsclient's stderr; never throws (missing parts come back undefined or empty). */
export function parseGtlsclientOutput(stderr: string): GtlsclientTranscript {
  let handshakeCompleted = false;
  let alpn: string | undefined;
  let streamCloseCode: number | undefined;
  const headerLines: [string, string][] = [];
  const handshakeChunks: Buffer[] = [];
  let dump: HexDumpReader | undefined;

  for (const raw of stderr.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (dump) {
      const done = dump.feed(line);
      if (done) {
        handshakeChunks.push(done);
        dump = undefined;
      }
      if (done || dump?.active) continue;
      dump = undefined;
    }
    if (line === 'Ordered CRYPTO data in Handshake crypto level') {
      dump = new HexDumpReader();
      continue;
    }
    if (line === 'QUIC handshake has completed') {
      handshakeCompleted = true;
      continue;
    }
    if (line.startsWith('Negotiated ALPN is ')) {
      alpn = line.slice('Negotiated ALPN is '.length).trim() || undefined;
      continue;
    }
    const h = HEADER_LINE.exec(line);
    if (h?.[1] !== undefined && h[2] !== undefined) {
      headerLines.push([h[1], h[2]]);
      continue;
    }
    const c = STREAM_CLOSED.exec(line);
    if (c?.[1] !== undefined && streamCloseCode === undefined) streamCloseCode = Number(c[1]);
  }

  const statusText = headerLines.find(([n]) => n === ':status')?.[1];
  const status = statusText !== undefined && /^\d{3}$/.test(statusText) ? Number(statusText) : undefined;
  return {
    handshakeCompleted,
    alpn,
    headerLines,
    status,
    streamCloseCode,
    certificates: certificatesFromHandshake(Buffer.concat(handshakeChunks)),
  };
}

/** Rebuilds the bytes of one `hexdump -C`-style dump, `*` repeat lines included. */
export class HexDumpReader {
  private readonly lines: { offset: number; bytes: Buffer }[] = [];
  private repeatPending = false;
  /** False once a line arrived that is not part of a dump. */
  active = true;

  /** Feeds one line; returns the whole dump once its closing length line arrives. */
  feed(line: string): Buffer | undefined {
    const end = HEX_END.exec(line);
    if (end?.[1] !== undefined) return this.finish(parseInt(end[1], 16));
    if (line === '*') {
      this.repeatPending = true;
      return undefined;
    }
    const m = HEX_LINE.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) {
      this.active = false;
      return undefined;
    }
    const offset = parseInt(m[1], 16);
    this.fillRepeats(offset);
    this.lines.push({ offset, bytes: Buffer.from(m[2].replace(/ /g, ''), 'hex') });
    return undefined;
  }

  private fillRepeats(upTo: number): void {
    if (!this.repeatPending) return;
    this.repeatPending = false;
    const last = this.lines[this.lines.length - 1];
    if (!last) return;
    for (let off = last.offset + 16; off < upTo; off += 16) this.lines.push({ offset: off, bytes: last.bytes });
  }

  private finish(total: number): Buffer {
    this.fillRepeats(total);
    this.active = false;
    return Buffer.concat(this.lines.map((l) => l.bytes)).subarray(0, total);
  }
}

/**
 * The certificate list of the first TLS 1.3 Certificate message (type 11) in
 * a run of handshake messages (RFC 8446 section 4.4.2), leaf first.
 */
export function certificatesFromHandshake(bytes: Buffer): Buffer[] {
  let at = 0;
  while (at + 4 <= bytes.length) {
    const type = bytes[at]!;
    const len = bytes.readUIntBE(at + 1, 3);
    const body = bytes.subarray(at + 4, at + 4 + len);
    if (body.length < len) return [];
    if (type === 11) return certificateList(body);
    at += 4 + len;
  }
  return [];
}

function certificateList(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const contextLen = body[0] ?? 0;
  let at = 1 + contextLen;
  if (at + 3 > body.length) return out;
  const listEnd = Math.min(body.length, at + 3 + body.readUIntBE(at, 3));
  at += 3;
  while (at + 3 <= listEnd) {
    const certLen = body.readUIntBE(at, 3);
    at += 3;
    if (at + certLen > listEnd) break;
    out.push(Buffer.from(body.subarray(at, at + certLen)));
    at += certLen;
    if (at + 2 > listEnd) break;
    at += 2 + body.readUInt16BE(at); // per-certificate extensions
  }
  return out;
}
