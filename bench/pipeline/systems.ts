/** The systems the pipeline bench compares: the engine's own index, and the baselines a team would pick instead. */
export type System = 'engine' | 'redis-geo' | 'postgis';
export const SYSTEMS: readonly System[] = ['engine', 'redis-geo', 'postgis'];
