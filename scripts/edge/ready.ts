/** Readiness probes for scripts/edge.ts: the gateway's /health, then the edge itself. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Calls `probe` every `intervalMs` until it answers true; false if `timeoutMs` passed or `cancelled()` said so. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; cancelled?: () => boolean },
): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (opts.cancelled?.()) return false;
    if (await probe().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** True when GET `url` answers 200 within a second. */
export function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 1_000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/**
 * The status of GET `url` over HTTPS, checked against `ca` (a PEM) with
 * `servername` as the name to verify, or undefined when there is no answer.
 */
export function httpsStatus(url: string, opts: { ca?: Buffer; servername: string }): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      url,
      {
        timeout: 1_000,
        agent: false,
        servername: opts.servername,
        ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}
