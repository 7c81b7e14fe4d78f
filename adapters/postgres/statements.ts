import { readFileSync } from 'node:fs';

const DIR = new URL('../../sql/statements/', import.meta.url);

/** Reads one statement from sql/statements/, once, at module load. */
const load = (name: string): string => readFileSync(new URL(`${name}.sql`, DIR), 'utf8');

/** The statements of the event store and the fence; each file's header says what it does and its parameters. */
export const Statements = Object.freeze({
  appendBatch: load('append-batch'),
  readAggregate: load('read-aggregate'),
  readSince: load('read-since'),
  loadState: load('load-state'),
  loadPartition: load('load-partition'),
  fenceRaise: load('fence-raise'),
  fenceRead: load('fence-read'),
});
