/**
 * Patches postgres.js 3.4 (porsager/postgres issues 1066, 1154, 1208; pull requests 1168, 1176,
 * 1209, none merged by 3.4.10): a write buffered for the next tick on a connection that closed
 * meanwhile calls `socket.write` on null, an uncaught TypeError that ends the process. A
 * transaction in flight when Postgres goes away is enough (postgres.js sends its ROLLBACK on the
 * closed connection). The guard settles the write as the closed connection it is. Run by
 * `postinstall` and by the Dockerfile; idempotent; refuses a file it does not recognise, so an
 * upgrade that changes the code is noticed here and not in production.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARK = '/* dispatch-engine: guard nextWrite */';
const BEFORE = `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`;
const AFTER = `  function nextWrite(fn) {
    ${MARK}
    if (!socket) {
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      error(Errors.connection('CONNECTION_CLOSED', options))
      return false
    }
    const x = socket.write(chunk, fn)`;

// A direct dependency, so npm puts it at the top of node_modules.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'postgres');
for (const file of ['src/connection.js', 'cjs/src/connection.js']) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  if (text.includes(MARK)) continue;
  if (!text.includes(BEFORE)) {
    console.error(`patch-postgres-js: ${path} is not the postgres.js this patch knows; see the header of this file`);
    process.exit(1);
  }
  writeFileSync(path, text.replace(BEFORE, AFTER));
  console.error(`patch-postgres-js: guarded nextWrite in ${path}`);
}
