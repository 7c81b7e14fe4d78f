import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from './redis-server.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface OwnPostgres {
  readonly url: (db: string) => string;
  stop(): void;
  start(): void;
}

/**
 * A Postgres cluster of the test's own (for tests that stop it), on a free
 * port, fsync off. initdb refuses to run as root, so as root it runs as the
 * `postgres` user. Removed at teardown.
 */
export async function startPostgres(t: { teardown(fn: () => unknown): void }): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pg-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/${cmd}`, ...args], { stdio: 'ignore' })
      : execFileSync(`${BIN}/${cmd}`, args, { stdio: 'ignore' });
  run('initdb', ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = () =>
    run('pg_ctl', [
      '-D',
      `${dir}/data`,
      '-w',
      '-l',
      `${dir}/log`,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  const stop = () => run('pg_ctl', ['-D', `${dir}/data`, '-w', '-m', 'immediate', 'stop']);
  start();
  t.teardown(() => {
    try {
      stop();
    } catch {
      /* already stopped */
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`, stop, start };
}
