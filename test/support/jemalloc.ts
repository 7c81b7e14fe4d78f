import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/with-jemalloc.sh', import.meta.url));

/** This machine's jemalloc, as scripts/with-jemalloc.sh finds it (`./dev setup` installs it). */
export function jemallocPath(): string | undefined {
  const preload = execFileSync('sh', [SCRIPT, 'sh', '-c', 'printf %s "${LD_PRELOAD:-}"'], {
    env: withoutJemalloc(process.env),
  }).toString();
  return preload.split(':').find((p) => p.includes('libjemalloc'));
}

/** `env` without jemalloc preloaded: glibc's allocator. */
export function withoutJemalloc(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = (env['LD_PRELOAD'] ?? '')
    .split(':')
    .filter((p) => p !== '' && !p.includes('libjemalloc'))
    .join(':');
  const out = { ...env };
  if (rest === '') delete out['LD_PRELOAD'];
  else out['LD_PRELOAD'] = rest;
  return out;
}

/**
 * An npm script's command as the image runs it: without scripts/with-jemalloc.sh in front, since
 * the image preloads jemalloc itself (the Dockerfile's LD_PRELOAD), so node is the process that
 * gets the signals.
 */
export const imageCommand = (script: string): string[] =>
  script.replace(/^sh scripts\/with-jemalloc\.sh /, '').split(' ');
