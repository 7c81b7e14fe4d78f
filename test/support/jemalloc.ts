import { existsSync } from 'node:fs';

/** Where scripts/with-jemalloc.sh looks for jemalloc, in its order. */
const CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];

/** This machine's jemalloc, as scripts/with-jemalloc.sh finds it (`./dev setup` installs it). */
export function jemallocPath(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p));
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
