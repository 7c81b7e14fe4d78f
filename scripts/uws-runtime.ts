/**
 * `node --import tsx scripts/uws-runtime.ts [--node-modules DIR] [--prune] [--check]`:
 * makes `uWebSockets.js` (the name every import uses) resolve to a build
 * that loads on the Node.js running this script.
 *
 * Two builds are installed from the lock file:
 * - `uWebSockets.js` itself, an alias of @trufflesuite/uws-js-unofficial
 *   20.30: binaries for Node 16, 18 and 20, glibc 2.17 or newer. Development
 *   and CI (Debian 12, glibc 2.36, Node 20) use it.
 * - @btc-vision/uwebsockets.js 20.57: binaries for Node 20, 22, 24 and 25,
 *   glibc 2.38 or newer. The container image (Node 24 on Debian 13, glibc
 *   2.41) uses it.
 *
 * The script tries the installed `uWebSockets.js` in a child Node; when that
 * cannot load (no binary for this Node's ABI, or a glibc too old), it
 * replaces the folder with a copy of the other build and tries again. With
 * `--prune` it deletes every binary but this platform's, arch's and ABI's
 * from the build kept, and the build not kept (the image: about 220 MB less).
 * `--check` only reports. Exit 0 when `uWebSockets.js` loads at the end;
 * 1 with the reason otherwise. docs/operations.md, "Runtime".
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ALTERNATIVE = '@btc-vision/uwebsockets.js';
const NAME = 'uWebSockets.js';

interface Args {
  readonly nodeModules: string;
  readonly prune: boolean;
  readonly check: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let nodeModules = resolve('node_modules');
  let prune = false;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--prune') prune = true;
    else if (a === '--check') check = true;
    else if (a === '--node-modules' && argv[i + 1]) nodeModules = resolve(argv[++i]!);
    else throw new Error(`unknown argument ${String(a)}; usage: [--node-modules DIR] [--prune] [--check]`);
  }
  return { nodeModules, prune, check };
}

/** The package name and version in `dir`/package.json. */
function packageOf(dir: string): string {
  const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
  return `${p.name ?? '?'}@${p.version ?? '?'}`;
}

/**
 * Loads this Node's native binary of the package in `dir` in a child Node (a
 * failed dlopen must not stay in this process), then the package itself; the
 * error text when either fails. The binary is loaded by its path because the
 * trufflesuite build, lacking one, quietly falls back to a slow pure-JS server.
 */
function loadError(dir: string): string | undefined {
  const binary = findFile(dir, binaryName());
  if (binary === undefined) return `no ${binaryName()} in ${packageOf(dir)}`;
  const probe = [
    `const native = require(${JSON.stringify(binary)});`,
    `const pkg = require(${JSON.stringify(dir)});`,
    "if (typeof native.App !== 'function' || pkg.App !== native.App) throw new Error('the package does not export its native build');",
  ].join('\n');
  try {
    execFileSync(process.execPath, ['-e', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    const line = stderr.split('\n').find((l) => /Error|GLIBC/.test(l));
    return (line ?? stderr).trim().slice(0, 300);
  }
}

/** The path of the first file named `name` under `dir`, files before folders, in name order. */
function findFile(dir: string, name: string): string | undefined {
  const entries = readdirSync(dir, { withFileTypes: true }).sort(
    (a, b) => Number(a.isDirectory()) - Number(b.isDirectory()) || a.name.localeCompare(b.name),
  );
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory() && e.name !== 'node_modules') {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return undefined;
}

/** The binary file name this Node loads, e.g. uws_linux_x64_137.node. */
function binaryName(): string {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

/** Deletes every uws_*.node under `dir` but the file at path `keep`; bytes freed. */
function pruneBinaries(dir: string, keep: string | undefined): number {
  let freed = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^uws_.*\.node$/.test(e.name) && p !== keep) {
        freed += statSync(p).size;
        rmSync(p);
      }
    }
  };
  walk(dir);
  return freed;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const target = join(args.nodeModules, NAME);
  const alternative = join(args.nodeModules, ALTERNATIVE);
  const say = (m: string) => process.stderr.write(`uws-runtime: ${m}\n`);
  say(
    `Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}), needs ${binaryName()}`,
  );
  if (!existsSync(target)) {
    say(`${target} is missing: run npm ci first`);
    return 1;
  }
  let error = loadError(target);
  if (error === undefined) say(`${packageOf(target)} loads`);
  else {
    say(`${packageOf(target)} does not load: ${error}`);
    if (args.check) return 1;
    if (!existsSync(alternative)) {
      say(`${alternative} is missing: run npm ci first`);
      return 1;
    }
    const aside = `${target}.unused`;
    rmSync(aside, { recursive: true, force: true });
    renameSync(target, aside);
    cpSync(alternative, target, { recursive: true });
    error = loadError(target);
    if (error !== undefined) {
      say(`${packageOf(target)} does not load either: ${error}`);
      rmSync(target, { recursive: true, force: true });
      renameSync(aside, target);
      return 1;
    }
    say(`${NAME} now is ${packageOf(target)}, which loads`);
    rmSync(aside, { recursive: true, force: true });
  }
  if (args.prune && !args.check) {
    let freed = pruneBinaries(target, findFile(target, binaryName()));
    if (existsSync(alternative)) {
      freed += pruneBinaries(alternative, undefined);
      rmSync(alternative, { recursive: true, force: true });
    }
    const after = loadError(target);
    if (after !== undefined) {
      say(`after pruning, ${NAME} does not load: ${after}`);
      return 1;
    }
    say(`pruned other platforms' binaries: ${(freed / 1e6).toFixed(0)} MB freed; ${NAME} still loads`);
  }
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`uws-runtime: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
