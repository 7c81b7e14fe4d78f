/**
 * HTTP/3 requests with headers of our choice, through headless Chromium
 * (Debian's chromium-headless-shell) driven over the DevTools protocol on a
 * pipe. gtlsclient 0.12 cannot send request headers; Chromium can, and its
 * QUIC stack is another independent implementation.
 *
 * QUIC is forced for every origin (--origin-to-force-quic-on=*), the test CA
 * is trusted through an NSS database in a temp HOME (so the certificate is
 * really verified, no pinning or ignoring of errors), and the answer is only
 * returned when Chromium reports the response's protocol as `h3`.
 *
 * Chromium adds headers of its own (user-agent, accept-encoding, origin,
 * referer, sec-fetch-*), and refuses to let a page set the fetch spec's
 * forbidden ones (host, content-length, cookie, origin, ...): asking for one
 * of those is an error here rather than a header silently not sent.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { H3RequestError, type H3Request, type H3Response } from './h3-types.js';

const run = promisify(execFile);

/** Request headers a page cannot set (fetch standard, "forbidden request-header"). */
const FORBIDDEN = new Set([
  'accept-charset',
  'accept-encoding',
  'access-control-request-headers',
  'access-control-request-method',
  'connection',
  'content-length',
  'cookie',
  'cookie2',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
]);

const browsers = new Set<ChildProcess>();
// Chromium runs in its own process group: if the test process dies without closing it, take it down.
process.once('exit', () => {
  for (const b of browsers)
    try {
      process.kill(-b.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
});

export interface H3Browser {
  /** One request over HTTP/3; `caCertPath` of the request is ignored (the browser trusts the CAs it was started with). */
  request(req: Omit<H3Request, 'caCertPath' | 'insecure'>): Promise<H3Response>;
  close(): Promise<void>;
}

/** Starts headless Chromium trusting `caCertPaths`; reuse it for many requests, then `close()`. */
export async function startH3Browser(opts: {
  caCertPaths: readonly string[];
  t?: { teardown(fn: () => unknown): void };
}): Promise<H3Browser> {
  const home = await mkdtemp(join(tmpdir(), 'h3-browser-'));
  let proc: ChildProcess | undefined;
  const close = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc?.once('exit', r));
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        proc.kill('SIGKILL');
      }
      await gone;
    }
    await rm(home, { recursive: true, force: true });
  };
  opts.t?.teardown(close);
  try {
    await trustCas(home, opts.caCertPaths);
    proc = spawn(
      'chromium-headless-shell',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-extensions',
        `--user-data-dir=${join(home, 'profile')}`,
        '--remote-debugging-pipe',
        '--enable-quic',
        '--origin-to-force-quic-on=*',
        'about:blank',
      ],
      { env: { ...process.env, HOME: home }, stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
    );
    const launched = proc;
    browsers.add(launched);
    launched.once('exit', () => browsers.delete(launched));
    let stderr = '';
    launched.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    const spawnError = new Promise<never>((_, reject) =>
      launched.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new Error('chromium-headless-shell not found (apt-get install chromium-headless-shell, or ./dev setup)')
            : err,
        ),
      ),
    );
    const cdp = new CdpPipe(launched.stdio[3] as Writable, launched.stdio[4] as Readable, () => stderr);
    await Promise.race([cdp.send('Browser.getVersion'), spawnError]);
    return { request: (req) => browserRequest(cdp, req), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One request in a browser started for it alone (about half a second more than gtlsclient). */
export async function h3BrowserRequest(req: H3Request): Promise<H3Response> {
  if (!req.caCertPath) throw new Error('h3Request: requests with headers go through Chromium, which needs caCertPath');
  const browser = await startH3Browser({ caCertPaths: [req.caCertPath] });
  try {
    return await browser.request(req);
  } finally {
    await browser.close();
  }
}

async function trustCas(home: string, caCertPaths: readonly string[]): Promise<void> {
  const db = `sql:${join(home, '.pki', 'nssdb')}`;
  await mkdir(join(home, '.pki', 'nssdb'), { recursive: true });
  try {
    await run('certutil', ['-d', db, '-N', '--empty-password']);
    for (const [i, ca] of caCertPaths.entries())
      await run('certutil', ['-d', db, '-A', '-t', 'C,,', '-n', `test-ca-${i}`, '-i', ca]);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT')
      throw new Error('certutil not found (apt-get install libnss3-tools, or ./dev setup)');
    throw err;
  }
}

interface NetResponse {
  url: string;
  status: number;
  protocol?: string;
  headers: Record<string, string>;
  securityDetails?: { subjectName?: string };
}

async function browserRequest(cdp: CdpPipe, req: Omit<H3Request, 'caCertPath' | 'insecure'>): Promise<H3Response> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:') throw new Error(`h3Request: ${req.url} is not https`);
  const headers = Object.entries(req.headers ?? {});
  const bad = headers
    .map(([k]) => k.toLowerCase())
    .filter((k) => FORBIDDEN.has(k) || k.startsWith('proxy-') || k.startsWith('sec-'));
  if (bad.length) throw new Error(`h3Request: a browser cannot send ${bad.join(', ')}`);

  const deadline = req.timeoutMs ?? 15_000;
  const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  const s = <T>(method: string, params: object = {}) => cdp.send<T>(method, params, sessionId);
  const offs: (() => void)[] = [];
  try {
    // The page must be on the request's origin for its headers to be readable; its own
    // document is answered here, so the server only ever sees the one request.
    const blank = `${url.origin}/__h3-browser-blank__`;
    offs.push(
      cdp.on('Fetch.requestPaused', sessionId, (p: { requestId: string }) => {
        void s('Fetch.fulfillRequest', {
          requestId: p.requestId,
          responseCode: 200,
          responseHeaders: [{ name: 'content-type', value: 'text/html' }],
          body: '',
        });
      }),
    );
    await s('Fetch.enable', { patterns: [{ urlPattern: blank, requestStage: 'Request' }] });
    await s('Page.enable');
    const loaded = cdp.once('Page.loadEventFired', sessionId, deadline);
    const nav = await s<{ errorText?: string }>('Page.navigate', { url: blank });
    if (nav.errorText) throw new Error(`h3Request: the browser could not open ${url.origin}: ${nav.errorText}`);
    await loaded;
    await s('Fetch.disable');

    const responses: NetResponse[] = [];
    offs.push(
      cdp.on('Network.responseReceived', sessionId, (p: { response: NetResponse }) => responses.push(p.response)),
    );
    await s('Network.enable');
    const init = {
      method: (req.method ?? 'GET').toUpperCase(),
      headers: Object.fromEntries(headers),
      bodyB64: req.body === undefined ? null : Buffer.from(req.body).toString('base64'),
    };
    const expression = `(async (u, i) => {
      const body = i.bodyB64 === null ? undefined : Uint8Array.from(atob(i.bodyB64), (c) => c.charCodeAt(0));
      const r = await fetch(u, { method: i.method, headers: i.headers, body, cache: 'no-store', credentials: 'omit', redirect: 'manual' });
      const bytes = new Uint8Array(await r.arrayBuffer());
      let bin = ''; for (let k = 0; k < bytes.length; k += 0x8000) bin += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
      return { bodyB64: btoa(bin) };
    })(${JSON.stringify(url.href)}, ${JSON.stringify(init)})`;
    const evaluated = await Promise.race([
      s<{ result: { value?: { bodyB64: string } }; exceptionDetails?: { exception?: { description?: string } } }>(
        'Runtime.evaluate',
        { expression, awaitPromise: true, returnByValue: true },
      ),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`h3Request: no answer within ${deadline} ms`)), deadline).unref(),
      ),
    ]);
    const res = responses.find((r) => r.url === url.href);
    if (evaluated.exceptionDetails || !evaluated.result.value || !res) {
      const why = evaluated.exceptionDetails?.exception?.description?.split('\n')[0] ?? 'no response';
      throw new H3RequestError(
        `h3Request: the browser's request failed (${why}); is the certificate from a CA it trusts?${cdp.stderrTail()}`,
        cdp.stderrTail(),
      );
    }
    if (res.protocol !== 'h3')
      throw new H3RequestError(`h3Request: the browser used ${res.protocol ?? 'an unknown protocol'}, not h3`, '');
    const bodyBytes = Buffer.from(evaluated.result.value.bodyB64, 'base64');
    const out: Record<string, string> = {};
    // DevTools joins repeated fields with a newline.
    for (const [k, v] of Object.entries(res.headers)) out[k.toLowerCase()] = v.split('\n').join(', ');
    return {
      status: res.status,
      headers: out,
      body: bodyBytes.toString('utf8'),
      bodyBytes,
      httpVersion: '3',
      alpn: 'h3',
      certificateSubject: res.securityDetails?.subjectName ?? '',
      transcript: '',
    };
  } finally {
    for (const off of offs) off();
    await cdp.send('Target.closeTarget', { targetId }).catch(() => undefined);
  }
}

type Listener = (params: never) => void;

/** The DevTools protocol over --remote-debugging-pipe: NUL-terminated JSON both ways. */
class CdpPipe {
  private nextId = 0;
  private buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Set<{ method: string; sessionId: string; fn: Listener }>();
  private closed: Error | undefined;

  constructor(
    private readonly out: Writable,
    input: Readable,
    readonly stderr: () => string,
  ) {
    input.on('data', (chunk: Buffer) => this.onData(chunk));
    input.once('close', () => this.fail(new Error(`the browser closed its DevTools pipe${this.stderrTail()}`)));
    out.on('error', (err) => this.fail(err));
  }

  send<T = unknown>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve, reject });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  on<P>(method: string, sessionId: string, fn: (params: P) => void): () => void {
    const l = { method, sessionId, fn: fn as Listener };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  once(method: string, sessionId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`h3Request: no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(method, sessionId, () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  stderrTail(): string {
    const lines = this.stderr()
      .split('\n')
      .filter((l) => l && !/dbus|bluez|vaapi|sandbox|Floss/i.test(l));
    return lines.length ? `\n${lines.slice(-5).join('\n')}` : '';
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (let end = this.buffer.indexOf(0); end >= 0; end = this.buffer.indexOf(0)) {
      const msg = JSON.parse(this.buffer.subarray(0, end).toString('utf8')) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: unknown;
        sessionId?: string;
      };
      this.buffer = this.buffer.subarray(end + 1);
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`DevTools: ${msg.error.message}`));
        else p?.resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners)
          if (l.method === msg.method && l.sessionId === msg.sessionId) (l.fn as (p: unknown) => void)(msg.params);
      }
    }
  }

  private fail(err: Error): void {
    this.closed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
