/**
 * The one logger of the server, the worker and the scripts that log: pino,
 * one JSON object per line on stderr, at the level `LOG_LEVEL` names, with
 * personal and secret fields redacted by pino's own redaction before a line
 * is written. In development on a terminal (or with `LOG_FORMAT=pretty`) the
 * lines go through pino-pretty instead; never in tests or production unless
 * asked.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Field names whose values never reach a log line: contact details, tokens and
 * secrets, bank details and identity documents (the seed's `bank_details`,
 * `documents`, `license_number`), wherever they sit up to four levels deep.
 */
export const REDACTED_FIELDS: readonly string[] = [
  'phone',
  'phone_number',
  'phoneNumber',
  'email',
  'token',
  'id_token',
  'idToken',
  'access_token',
  'refresh_token',
  'fcm_token',
  'authorization',
  'Authorization',
  'cookie',
  'password',
  'secret',
  'api_key',
  'apiKey',
  'key_secret',
  'keySecret',
  'webhook_secret',
  'encryption_key',
  'bank_details',
  'bankDetails',
  'account_number',
  'accountNumber',
  'ifsc_code',
  'ifsc',
  'account_holder_name',
  'documents',
  'driving_license',
  'vehicle_registration',
  'insurance',
  'license_number',
  'licenseNumber',
  'vpa',
  'payer_vpa',
];

const DEPTH = 4;

/** pino redaction paths: each field at the top and under up to {@link DEPTH} - 1 objects. */
export function redactPaths(fields: readonly string[] = REDACTED_FIELDS): string[] {
  const paths: string[] = [];
  for (const f of fields) {
    const key = /^[A-Za-z_$][\w$]*$/.test(f) ? f : `["${f}"]`;
    for (let d = 0; d < DEPTH; d++) paths.push(`${'*.'.repeat(d)}${key}`);
  }
  return paths;
}

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** `pretty` writes through pino-pretty; `json` (the default) one object per line. */
  readonly format?: 'json' | 'pretty';
  /** Fields on every line (`service`: server, worker, migrate...). */
  readonly base?: Record<string, unknown>;
  /** Where lines go; stderr when absent. */
  readonly destination?: NodeJS.WritableStream;
}

export const CENSOR = '[redacted]';

export function createLogger(o: LoggerOptions = {}): Logger {
  const options = {
    level: o.level ?? 'info',
    base: { ...o.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(), censor: CENSOR },
    // Levels by name, as a reader (and the old logger's readers) expect.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (o.format === 'pretty')
    return pino(options, pinoPretty({ destination: 2, sync: true, colorize: process.stderr.isTTY }));
  return pino(options, o.destination ?? pino.destination({ dest: 2, sync: true }));
}

export class LogConfigError extends Error {
  override readonly name = 'LogConfigError';
}

/**
 * Reads `LOG_LEVEL` (info) and `LOG_FORMAT` (json, or pretty by default only
 * in development on a terminal); returns the problems instead of throwing, for
 * a configuration that lists them all.
 */
export function parseLogConfig(
  env: Readonly<Record<string, string | undefined>>,
  mode: 'development' | 'test' | 'production',
  tty: boolean,
): { level: LevelWithSilent; format: 'json' | 'pretty'; problems: string[] } {
  const problems: string[] = [];
  let level = (env['LOG_LEVEL'] || 'info').toLowerCase() as LevelWithSilent;
  if (!LOG_LEVELS.includes(level)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env['LOG_LEVEL'])}`);
    level = 'info';
  }
  const rawFormat = env['LOG_FORMAT'] || (mode === 'development' && tty ? 'pretty' : 'json');
  let format: 'json' | 'pretty' = 'json';
  if (rawFormat === 'json' || rawFormat === 'pretty') format = rawFormat;
  else problems.push(`LOG_FORMAT must be json or pretty, got ${JSON.stringify(rawFormat)}`);
  return { level, format, problems };
}

/** A logger for a script from the environment; a bad LOG_LEVEL or LOG_FORMAT stops it with the problems listed. */
export function loggerFromEnv(
  service: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Logger {
  const mode = env['NODE_ENV'] === 'production' ? 'production' : env['NODE_ENV'] === 'test' ? 'test' : 'development';
  const c = parseLogConfig(env, mode, process.stderr.isTTY);
  if (c.problems.length > 0) throw new LogConfigError(c.problems.join('\n'));
  return createLogger({ level: c.level, format: c.format, base: { service } });
}
