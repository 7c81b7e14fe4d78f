/**
 * `npm run dev-cert`: makes (or reuses) the local CA and the server
 * certificate of the HTTP/3 edge in EDGE_CERT_DIR (default .dev/certs) and
 * prints where they are. `scripts/edge.ts` does the same on start.
 */
import { parseEdgeConfig } from './edge/config.js';
import { ensureDevCert } from './edge/dev-cert.js';

const { certDir: dir, certHosts } = parseEdgeConfig(process.env);
ensureDevCert({ dir, hosts: certHosts }).then(
  (c) => {
    console.log(
      [
        `dev-cert: ${c.action} in ${dir}`,
        `  CA certificate (trust this one): ${c.caCertPath}`,
        `  server certificate:              ${c.certPath}`,
        `  server key:                      ${c.keyPath}`,
      ].join('\n'),
    );
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
