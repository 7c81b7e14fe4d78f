/**
 * The container image's HEALTHCHECK (`node --import tsx scripts/healthcheck.ts`):
 * exits 0 when the server in this container answers its liveness probe,
 * GET /livez; a server without that route (404) is asked GET /health
 * instead. SERVER_PORT as the server reads it (default 8080).
 */
const port = process.env['SERVER_PORT'] || '8080';
const base = `http://127.0.0.1:${port}`;

async function status(path: string): Promise<number> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(3_000) });
  await res.arrayBuffer();
  return res.status;
}

try {
  let code = await status('/livez');
  if (code === 404) code = await status('/health');
  if (code !== 200) {
    process.stderr.write(`healthcheck: ${base} answered ${code}\n`);
    process.exitCode = 1;
  }
} catch (err) {
  process.stderr.write(`healthcheck: ${base}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
