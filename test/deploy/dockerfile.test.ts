/**
 * The Dockerfile, without a Docker engine (none runs on this machine or in
 * CI): parsed with dockerfile-ast and checked for what the image must be
 * (multi-stage, non-root, a HEALTHCHECK, the commands `npm start` and
 * `npm run worker` run), and its steps done outside Docker:
 *
 * - the runtime stage's COPY list is copied into an empty folder, which then
 *   runs the server (`CMD`) and the image's HEALTHCHECK against it, and the
 *   migrations, so a file the image forgets fails here;
 * - every COPY source exists and is not excluded by .dockerignore;
 * - the production dependency tree (`npm ci --omit=dev`) holds what the
 *   commands need (tsx runs TypeScript at run time);
 * - the deps stage's scripts/uws-runtime.ts on a copy of node_modules keeps a
 *   build that loads on this Node and prunes the rest.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { imageCommand, jemallocPath } from '../support/jemalloc.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';
import { throwawayDatabase } from '../support/pg.js';
import { freePort } from '../support/redis-server.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

/** The instructions of each stage, by the stage's name. */
const stages = new Map<string, Instruction[]>();
let current: Instruction[] | undefined;
for (const i of dockerfile.getInstructions()) {
  if (i.getKeyword() === 'FROM') {
    const name = dockerfile
      .getFROMs()
      .find((f) => f.getRange().start.line === i.getRange().start.line)
      ?.getBuildStage();
    current = [];
    stages.set(name ?? `stage${stages.size}`, current);
  }
  current?.push(i);
}
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** The JSON (exec) form of CMD or HEALTHHECK CMD; throws on the shell form. */
const execForm = (text: string): string[] => JSON.parse(text) as string[];
const runtime = [...stages.values()].at(-1)!;
const of = (keyword: string) => runtime.filter((i) => i.getKeyword() === keyword);
const env = Object.fromEntries(of('ENV').flatMap((i) => args(i).map((a) => a.split('=', 2) as [string, string])));

t.test('two stages from one supported Node LTS image on Debian 13', async (t) => {
  t.same([...stages.keys()], ['deps', 'runtime']);
  const arg = dockerfile.getInstructions().find((i) => i.getKeyword() === 'ARG');
  const image = /^NODE_IMAGE=(.+)$/.exec(arg ? args(arg)[0]! : '')?.[1];
  t.match(
    image,
    /^node:(22|24)-trixie-slim$/,
    'Node 22 or 24 (LTS), slim, Debian 13 (glibc 2.41: the uWS build for Node 22+ needs 2.38)',
  );
  for (const from of dockerfile.getFROMs())
    t.equal(from.getImageName(), '${NODE_IMAGE}', 'both stages from the same image');
  t.same(
    dockerfile.getDirectives().map((d) => d.getValue()),
    ['docker/dockerfile:1'],
  );
});

t.test('the runtime stage: non-root, production, the commands of npm start and npm run worker', async (t) => {
  const user = of('USER');
  t.equal(user.length, 1);
  t.not(args(user[0]!)[0], 'root');
  t.not(args(user[0]!)[0], '0');
  t.equal(env['NODE_ENV'], 'production');
  t.equal(env['SERVER_HOST'], '0.0.0.0', 'reachable from outside the container');
  const cmd = execForm(args(of('CMD')[0]!).join(' '));
  t.same(
    cmd,
    imageCommand(pkg.scripts['start']!),
    'CMD is what npm start runs, without npm or a shell in between (signals reach node)',
  );
  t.equal(env['LD_PRELOAD'], '/usr/local/lib/libjemalloc.so.2', 'with jemalloc preloaded, as npm start has it');
  t.ok(
    of('RUN').some(
      (i) =>
        /apt-get install .*libjemalloc2/.test(args(i).join(' ')) &&
        /ln -s .*\/usr\/local\/lib\/libjemalloc\.so\.2/.test(args(i).join(' ')),
    ),
    'installed and linked where LD_PRELOAD points',
  );
  t.match(
    pkg.scripts['worker'],
    /^node --import tsx scripts\/worker\.ts$/,
    'the worker is the same image with its command',
  );
  t.same(args(of('STOPSIGNAL')[0]!), ['SIGTERM']);
  t.same(args(of('EXPOSE')[0]!), ['8080', '9090'], 'the server and the metrics port');
  const health = of('HEALTHCHECK');
  t.equal(health.length, 1);
  const flags = Object.fromEntries(
    (health[0] as Instruction & { getFlags(): { getName(): string; getValue(): string }[] })
      .getFlags()
      .map((f) => [f.getName(), f.getValue()]),
  );
  t.match(flags, { interval: String, timeout: String, 'start-period': String, retries: String });
  const [kw, ...rest] = args(health[0]!);
  t.equal(kw, 'CMD');
  t.same(execForm(rest.join(' ')), ['node', '--import', 'tsx', 'scripts/healthcheck.ts']);
  t.notOk(
    runtime.some((i) => i.getKeyword() === 'RUN' && /npm (ci|install)/.test(args(i).join(' '))),
    'no install in the final stage: dependencies come from the deps stage',
  );
});

t.test('every COPY source exists and is not in .dockerignore', async (t) => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const [, instructions] of stages)
    for (const i of instructions.filter((i) => i.getKeyword() === 'COPY')) {
      const flags = (i as Instruction & { getFlags(): { getName(): string }[] }).getFlags().map((f) => f.getName());
      if (flags.includes('from')) continue;
      for (const src of args(i).slice(0, -1)) {
        t.ok(existsSync(join(ROOT, src)), `${src} exists`);
        t.notOk(
          ignored.some((p) => src === p || src.startsWith(`${p}/`)),
          `${src} is not excluded by .dockerignore`,
        );
      }
    }
});

t.test('the production dependencies hold what the commands run', async (t) => {
  t.ok(pkg.dependencies['tsx'], 'tsx is a dependency: npm start runs TypeScript through it');
  t.ok(pkg.dependencies['@btc-vision/uwebsockets.js'], 'the uWS build for Node 22+ is installed for the image');
  const { stdout } = await run(
    'npm',
    ['ls', '--omit=dev', '--parseable', 'tsx', 'uWebSockets.js', '@btc-vision/uwebsockets.js'],
    {
      cwd: ROOT,
    },
  );
  const found = stdout.split('\n').filter(Boolean);
  for (const name of ['tsx', 'uWebSockets.js', join('@btc-vision', 'uwebsockets.js')])
    t.ok(
      found.some((p) => p.endsWith(join('node_modules', name))),
      `${name} is in the production tree`,
    );
});

t.test('the deps stage: uws-runtime keeps a uWS build that loads here and prunes the rest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uws-runtime-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, '@btc-vision'), { recursive: true });
  // Hard links: the copy costs no space and pruning it leaves the real node_modules alone.
  await run('cp', ['-al', join(ROOT, 'node_modules', 'uWebSockets.js'), nm]);
  await run('cp', ['-al', join(ROOT, 'node_modules', '@btc-vision', 'uwebsockets.js'), join(nm, '@btc-vision')]);
  const res = await run(
    process.execPath,
    ['--import', 'tsx', 'scripts/uws-runtime.ts', '--node-modules', nm, '--prune'],
    {
      cwd: ROOT,
    },
  );
  t.match(res.stderr, /uWebSockets\.js still loads/);
  const binaries = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? binaries(join(d, e.name)) : /^uws_.*\.node$/.test(e.name) ? [e.name] : [],
    );
  t.same(binaries(nm), [`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`], 'one binary left');
  t.notOk(existsSync(join(nm, '@btc-vision', 'uwebsockets.js')), 'the build not used is removed');
  const loaded = await run(process.execPath, [
    '-e',
    `console.log(typeof require(${JSON.stringify(join(nm, 'uWebSockets.js'))}).App)`,
  ]);
  t.equal(loaded.stdout.trim(), 'function');
  t.ok(
    existsSync(join(ROOT, 'node_modules', 'uWebSockets.js', 'binaries', 'uws_darwin_x64_115.node')),
    "the repository's own node_modules is untouched",
  );
});

t.test(
  "the runtime stage's files, copied as the COPY lines say, run the server, the HEALTHCHECK and the migrations",
  async (t) => {
    const app = mkdtempSync(join(tmpdir(), 'image-app-'));
    t.teardown(() => rmSync(app, { recursive: true, force: true }));
    for (const i of of('COPY')) {
      const flags = (i as Instruction & { getFlags(): { getName(): string }[] }).getFlags().map((f) => f.getName());
      const a = args(i);
      if (flags.includes('from')) {
        t.same(a, ['/app/node_modules', './node_modules'], 'only node_modules comes from the deps stage');
        // The deps stage's node_modules is tested above; here this checkout's stands in for it.
        symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
        continue;
      }
      const dest = join(app, a.at(-1)!);
      for (const src of a.slice(0, -1)) {
        const target = a.at(-1)!.endsWith('/') ? join(dest, src.split('/').at(-1)!) : dest;
        cpSync(join(ROOT, src), target, { recursive: true });
      }
    }
    const emulator = await useAuthEmulator(t);
    const port = await freePort();
    const data = join(app, 'data');
    const childEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ...env,
      // Development mode: production settings (a payment gateway, keys) are for a real deployment.
      NODE_ENV: 'test',
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      DATA_DIR: data,
      FIREBASE_AUTH_EMULATOR_HOST: emulator.host,
      FIREBASE_PROJECT_ID: emulator.projectId,
      // The image links jemalloc at /usr/local/lib; here this machine's stands in for it.
      LD_PRELOAD: jemallocPath() ?? '',
    };
    const cmd = execForm(args(of('CMD')[0]!).join(' '));
    const server = spawn(cmd[0]!, cmd.slice(1), { cwd: app, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    t.teardown(async () => {
      if (server.exitCode === null) server.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not listen:\n${log}`)), 60_000);
      server.stderr.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('server: listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`the server exited (${code}):\n${log}`)));
    });
    const health = ['node', '--import', 'tsx', 'scripts/healthcheck.ts'];
    const ok = await run(health[0]!, health.slice(1), { cwd: app, env: childEnv });
    t.equal(ok.stderr, '', 'the HEALTHCHECK passes against the running server');
    server.kill('SIGTERM');
    t.equal(await exited, 0, 'SIGTERM stops it cleanly');
    const down = await run(health[0]!, health.slice(1), { cwd: app, env: childEnv }).then(
      () => 0,
      (err: unknown) => {
        const e = err as { code?: number; stderr?: string };
        t.match(e.stderr, /healthcheck: http:\/\/127\.0\.0\.1:\d+: /);
        return e.code;
      },
    );
    t.equal(down, 1, 'and fails once the server is gone');

    const db = await throwawayDatabase(t, 'image_migrate');
    const migrated = await run(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
      cwd: app,
      env: { ...childEnv, DATABASE_URL: db },
    });
    // migrate logs through pino, on stderr.
    t.match(migrated.stderr, /migrate: applied .+ now at/, "the image's sql/ migrates a new database");
  },
);
