/**
 * The reader of gtlsclient's transcript, on transcripts built here in the
 * format ngtcp2-client 0.12 prints (hexdump -C style, `*` for repeated lines).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ensureDevCert } from '../../scripts/edge/dev-cert.js';
import { HexDumpReader, certificatesFromHandshake, parseGtlsclientOutput } from '../support/gtlsclient-output.js';

/** ngtcp2's util::hexdump: 16 bytes a line, a `*` for a run of lines equal to the one before, then the length. */
function hexdump(bytes: Buffer): string[] {
  const lines: string[] = [];
  let repeated = false;
  for (let off = 0; off < bytes.length; off += 16) {
    const s = bytes.subarray(off, off + 16);
    if (s.length === 16 && off > 0 && s.equals(bytes.subarray(off - 16, off))) {
      if (!repeated) lines.push('*');
      repeated = true;
      continue;
    }
    repeated = false;
    const hex = [...s].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex
      .slice(0, 8)
      .map((h) => `${h} `)
      .join('')
      .padEnd(24);
    const right = hex
      .slice(8)
      .map((h) => `${h} `)
      .join('')
      .padEnd(24);
    const ascii = [...s].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${left} ${right} |${ascii}|`);
  }
  lines.push(bytes.length.toString(16).padStart(8, '0'));
  return lines;
}

const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const msg = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type]), u24(body.length), body]);

function certificateMessage(ders: readonly Buffer[]): Buffer {
  const entries = Buffer.concat(ders.map((d) => Buffer.concat([u24(d.length), d, Buffer.from([0, 0])])));
  return msg(11, Buffer.concat([Buffer.from([0]), u24(entries.length), entries]));
}

const dir = await mkdtemp(join(tmpdir(), 'gtls-out-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const dev = await ensureDevCert({ dir });
const leafDer = new X509Certificate(await readFile(dev.certPath)).raw;
const caDer = new X509Certificate(await readFile(dev.caCertPath)).raw;

t.test('the hex dump reader undoes repeats and the short last line', async (t) => {
  const bytes = Buffer.concat([Buffer.from('head-of-data-16b'), Buffer.alloc(64, 0x41), Buffer.from('tail')]);
  const r = new HexDumpReader();
  let out: Buffer | undefined;
  for (const line of hexdump(bytes)) out = r.feed(line) ?? out;
  t.ok(hexdump(bytes).includes('*'), 'the dump has a repeat marker');
  t.same(out, bytes);
});

t.test('the certificate chain comes out of the Handshake-level CRYPTO data, after other messages', async (t) => {
  const handshake = Buffer.concat([
    msg(8, Buffer.alloc(40)),
    certificateMessage([leafDer, caDer]),
    msg(15, Buffer.alloc(10)),
    msg(20, Buffer.alloc(32)),
  ]);
  t.same(certificatesFromHandshake(handshake), [leafDer, caDer]);
  t.same(certificatesFromHandshake(handshake.subarray(0, 60)), [], 'a cut message gives nothing');
});

t.test('a whole transcript: handshake, ALPN, headers, stream close, certificate', async (t) => {
  const handshake = Buffer.concat([msg(8, Buffer.alloc(48)), certificateMessage([leafDer])]);
  const half = 100;
  const transcript = [
    'I00000000 0x59d8 pkt tx pkn=0 dcid=0x21b4 type=Initial len=0',
    'Ordered CRYPTO data in Initial crypto level',
    ...hexdump(Buffer.from('020000560303aabbccdd', 'hex')),
    'Ordered CRYPTO data in Handshake crypto level',
    ...hexdump(handshake.subarray(0, half)),
    'I00000003 0x59d8 frm rx 1 Handshake CRYPTO(0x06) offset=100 len=900',
    'Ordered CRYPTO data in Handshake crypto level',
    ...hexdump(handshake.subarray(half)),
    'QUIC handshake has completed',
    'Negotiated cipher suite is AES-128-GCM',
    'Negotiated ALPN is h3',
    'http: stream 0x0 submit request headers',
    '[:method: GET]',
    '[:path: /v1/orders]',
    'http: stream 0x0 response headers started',
    'http: stream 0x0 [:status: 409]',
    'http: stream 0x0 [content-type: application/problem+json]',
    'http: stream 0x0 [link: <https://x/y>; rel="a[b]"]',
    'http: stream 0x0 [set-cookie: a=1]',
    'http: stream 0x0 [set-cookie: b=2]',
    'http: stream 0x0 headers ended',
    'HTTP stream 0 closed with error code 256',
    '',
  ].join('\n');
  const p = parseGtlsclientOutput(transcript);
  t.equal(p.handshakeCompleted, true);
  t.equal(p.alpn, 'h3');
  t.equal(p.status, 409);
  t.equal(p.streamCloseCode, 256);
  t.same(
    p.headerLines,
    [
      [':status', '409'],
      ['content-type', 'application/problem+json'],
      ['link', '<https://x/y>; rel="a[b]"'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ],
    'request headers are not taken for response headers',
  );
  t.same(p.certificates, [leafDer], 'the certificate spans two CRYPTO chunks');
});

t.test('a transcript of a failed connection has nothing to claim', async (t) => {
  const p = parseGtlsclientOutput('I00000000 0x1 pkt tx pkn=0\nTimeout\n');
  t.same(p, {
    handshakeCompleted: false,
    alpn: undefined,
    headerLines: [],
    status: undefined,
    streamCloseCode: undefined,
    certificates: [],
  });
});
