/**
 * One HTTP/3 request over QUIC with Debian's `gtlsclient` (package
 * ngtcp2-client), for end-to-end tests of the edge. Node 20 has no QUIC, so
 * a real, independent HTTP/3 stack (ngtcp2 + nghttp3 + GnuTLS) does it.
 *
 * The answer is only returned when gtlsclient's own transcript shows the
 * QUIC handshake completed with ALPN `h3` and the response headers arrived
 * on that connection; the server's certificate is taken from the same
 * handshake and checked here against the CA given, because gtlsclient 0.12
 * does not verify certificates itself.
 *
 * gtlsclient 0.12 cannot send request headers of our choice (it sends
 * :method, :scheme, :authority, :path, user-agent and, with a body,
 * content-length). A request with `headers` therefore goes through headless
 * Chromium instead (./h3-browser.ts), which proves HTTP/3 its own way; pass
 * `client` to choose. Bodies go to gtlsclient through a file.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGtlsclientOutput, type GtlsclientTranscript } from './gtlsclient-output.js';

import { H3RequestError, type H3Request, type H3Response } from './h3-types.js';

export { H3RequestError, type H3Request, type H3Response };

const H3_NO_ERROR = 0x100;

/** Sends one request over HTTP/3 and resolves with the response. */
export async function h3Request(req: H3Request): Promise<H3Response> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:') throw new Error(`h3Request: ${req.url} is not https`);
  const hasHeaders = Object.keys(req.headers ?? {}).length > 0;
  const client = req.client ?? (hasHeaders ? 'chromium' : 'gtlsclient');
  if (client === 'chromium') {
    const { h3BrowserRequest } = await import('./h3-browser.js');
    return h3BrowserRequest(req);
  }
  if (hasHeaders) {
    throw new Error(
      `h3Request: gtlsclient (ngtcp2-client 0.12) cannot send request headers (${Object.keys(req.headers ?? {}).join(', ')}); use client: 'chromium'`,
    );
  }
  if (!req.caCertPath && !req.insecure) throw new Error('h3Request: pass caCertPath (or insecure: true)');

  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const dial = host === 'localhost' ? '127.0.0.1' : host;
  const port = url.port || '443';
  const dir = await mkdtemp(join(tmpdir(), 'h3req-'));
  try {
    const download = join(dir, 'download');
    await mkdir(download);
    const args = [
      '--exit-on-all-streams-close',
      '--no-http-dump', // the body goes to --download; QUIC dumps stay on for the certificate
      `--download=${download}`,
      '--handshake-timeout=5s',
      '--timeout=10s',
      '-m',
      (req.method ?? 'GET').toUpperCase(),
    ];
    if (isIP(host) === 0) args.push(`--sni=${host}`);
    if (req.body !== undefined) {
      const bodyFile = join(dir, 'body');
      await writeFile(bodyFile, req.body);
      args.push('-d', bodyFile);
    }
    args.push(dial, port, url.href);

    const transcript = await runGtlsclient(args, req.timeoutMs ?? 10_000);
    const parsed = parseGtlsclientOutput(transcript);
    check(parsed, transcript);
    const subject = req.insecure
      ? subjectOf(parsed)
      : verifyChain(parsed, host, await readFile(req.caCertPath!), transcript);

    const files = await readdir(download);
    const bodyBytes = files[0] !== undefined ? await readFile(join(download, files[0])) : Buffer.alloc(0);
    return {
      status: parsed.status!,
      headers: headerRecord(parsed.headerLines),
      body: bodyBytes.toString('utf8'),
      bodyBytes,
      httpVersion: '3',
      alpn: parsed.alpn!,
      certificateSubject: subject,
      transcript,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function check(p: GtlsclientTranscript, transcript: string): void {
  if (!p.handshakeCompleted)
    throw new H3RequestError(`h3Request: the QUIC handshake did not complete${tail(transcript)}`, transcript);
  if (p.alpn !== 'h3')
    throw new H3RequestError(`h3Request: ALPN ${p.alpn ?? '(none)'} was negotiated, not h3`, transcript);
  if (p.status === undefined)
    throw new H3RequestError(`h3Request: no response headers on stream 0${tail(transcript)}`, transcript);
  if (p.streamCloseCode !== undefined && p.streamCloseCode !== H3_NO_ERROR) {
    throw new H3RequestError(
      `h3Request: the request stream closed with error 0x${p.streamCloseCode.toString(16)}`,
      transcript,
    );
  }
}

/** Walks leaf → intermediates → CA; checks names and dates. Returns the leaf's subject. */
function verifyChain(p: GtlsclientTranscript, host: string, caPem: Buffer, transcript: string): string {
  const fail = (why: string): never => {
    throw new H3RequestError(`h3Request: server certificate rejected: ${why}`, transcript);
  };
  const chain = p.certificates.map((der) => new X509Certificate(der));
  const leaf = chain[0] ?? fail('no Certificate message in the QUIC handshake');
  const ca = new X509Certificate(caPem);
  const now = Date.now();
  let current = leaf;
  for (let depth = 0; ; depth++) {
    if (depth > 5) fail('chain too long');
    if (now < Date.parse(current.validFrom) || now > Date.parse(current.validTo))
      fail(`${current.subject} is outside its validity`);
    if (current.checkIssued(ca) && current.verify(ca.publicKey)) break;
    const c = current;
    const parent = chain.find((x) => x !== c && x.ca && c.checkIssued(x) && c.verify(x.publicKey));
    current = parent ?? fail(`${c.subject} is not signed by the given CA`);
  }
  const named = isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host);
  if (named === undefined) fail(`it does not name ${host}`);
  return leaf.subject;
}

function subjectOf(p: GtlsclientTranscript): string {
  const der = p.certificates[0];
  return der ? new X509Certificate(der).subject : '';
}

function headerRecord(lines: readonly (readonly [string, string])[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of lines) {
    if (name.startsWith(':')) continue;
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  }
  return out;
}

function runGtlsclient(args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('gtlsclient', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT'
          ? new Error('h3Request: gtlsclient not found (apt-get install ngtcp2-client, or ./dev setup)')
          : err,
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const transcript = Buffer.concat(chunks).toString('utf8');
      if (signal === 'SIGKILL')
        reject(
          new H3RequestError(`h3Request: gtlsclient took longer than ${timeoutMs} ms${tail(transcript)}`, transcript),
        );
      else if (code !== 0)
        reject(
          new H3RequestError(`h3Request: gtlsclient exited with ${code ?? signal}${tail(transcript)}`, transcript),
        );
      else resolve(transcript);
    });
  });
}

function tail(transcript: string): string {
  const lines = transcript
    .trimEnd()
    .split('\n')
    .filter((l) => !/^(I\d{8}|[0-9a-f]{8}( |$))/.test(l));
  return lines.length ? `; last lines:\n${lines.slice(-8).join('\n')}` : '';
}
