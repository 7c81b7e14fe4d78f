/**
 * The Firebase part of the configuration, parsed once at the composition root
 * from an env object it passes in. Nothing below reads `process.env` for these
 * (the one exception, firebase-admin itself, is handled in
 * `firebase-identity.ts`).
 */

/** Development and test defaults: a `demo-` project never reaches Google. */
export const DEFAULT_PROJECT_ID = 'demo-dispatch';
export const DEFAULT_EMULATOR_HOST = '127.0.0.1:9099';

/** A configuration the server must not start with. Thrown only at start-up. */
export class FirebaseConfigError extends Error {
  override readonly name = 'FirebaseConfigError';
}

/** A service account key given inline (JSON) or as a path to its JSON file. */
export type ServiceAccountKey =
  | { readonly kind: 'json'; readonly projectId: string; readonly clientEmail: string; readonly privateKey: string }
  | { readonly kind: 'path'; readonly path: string };

/** The parsed, frozen Firebase configuration. */
export interface FirebaseConfig {
  /** `production` refuses the emulator; `development` and `test` get defaults. */
  readonly mode: 'development' | 'test' | 'production';
  readonly projectId: string;
  /**
   * `host:port` of the Auth emulator, or undefined for real Firebase. When set,
   * firebase-admin skips signature checks: never in production.
   */
  readonly emulatorHost: string | undefined;
  /** Credentials for production; undefined means Application Default Credentials. */
  readonly serviceAccountKey: ServiceAccountKey | undefined;
}

/** The variables read, all optional outside production. */
export interface FirebaseEnv {
  readonly NODE_ENV?: string | undefined;
  readonly FIREBASE_PROJECT_ID?: string | undefined;
  readonly FIREBASE_SERVICE_ACCOUNT_KEY?: string | undefined;
  readonly FIREBASE_AUTH_EMULATOR_HOST?: string | undefined;
}

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

/**
 * Parses and validates the Firebase configuration.
 *
 * - `NODE_ENV`: `development` (the default) and `test` get the defaults
 *   below; `production` and any other value (staging...) get none and refuse
 *   the emulator, so a mistyped environment never trusts unsigned tokens.
 * - `FIREBASE_PROJECT_ID`: default `demo-dispatch` outside production;
 *   required in production unless the service account key names its project.
 * - `FIREBASE_SERVICE_ACCOUNT_KEY`: the key's JSON itself or a path to it;
 *   without it production uses Application Default Credentials.
 * - `FIREBASE_AUTH_EMULATOR_HOST`: default `127.0.0.1:9099` outside production.
 *
 * @throws FirebaseConfigError with every problem found, one per line.
 */
export function parseFirebaseConfig(env: FirebaseEnv): FirebaseConfig {
  const problems: string[] = [];
  const nodeEnv = blankToUndefined(env.NODE_ENV) ?? 'development';
  const mode = nodeEnv === 'development' || nodeEnv === 'test' ? nodeEnv : 'production';

  const key = parseKey(blankToUndefined(env.FIREBASE_SERVICE_ACCOUNT_KEY), problems);

  let emulatorHost = blankToUndefined(env.FIREBASE_AUTH_EMULATOR_HOST);
  if (mode === 'production' && emulatorHost !== undefined) {
    problems.push(
      `FIREBASE_AUTH_EMULATOR_HOST is set (${emulatorHost}) while NODE_ENV=${nodeEnv}: ` +
        'firebase-admin would accept unsigned tokens. Unset it, or run with NODE_ENV=development or test.',
    );
  }
  if (mode !== 'production') emulatorHost ??= DEFAULT_EMULATOR_HOST;
  if (emulatorHost !== undefined && !HOST_PORT.test(emulatorHost)) {
    problems.push(`FIREBASE_AUTH_EMULATOR_HOST must be host:port without a scheme, got '${emulatorHost}'`);
  }

  let projectId = blankToUndefined(env.FIREBASE_PROJECT_ID);
  if (projectId === undefined && key?.kind === 'json') projectId = key.projectId;
  if (projectId === undefined && mode !== 'production') projectId = DEFAULT_PROJECT_ID;
  if (projectId === undefined) {
    problems.push(`FIREBASE_PROJECT_ID is required when NODE_ENV=${nodeEnv}`);
  } else if (!PROJECT_ID.test(projectId)) {
    problems.push(`FIREBASE_PROJECT_ID '${projectId}' is not a Firebase project id`);
  } else if (key?.kind === 'json' && key.projectId !== projectId) {
    problems.push(`FIREBASE_PROJECT_ID '${projectId}' differs from the service account's project '${key.projectId}'`);
  }

  if (problems.length > 0 || projectId === undefined) {
    throw new FirebaseConfigError(`Invalid Firebase configuration:\n- ${problems.join('\n- ')}`);
  }
  return Object.freeze({ mode, projectId, emulatorHost, serviceAccountKey: key });
}

function parseKey(raw: string | undefined, problems: string[]): ServiceAccountKey | undefined {
  if (raw === undefined) return undefined;
  if (!raw.trimStart().startsWith('{')) return Object.freeze({ kind: 'path', path: raw });
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // Never echo the value: it holds a private key.
    problems.push('FIREBASE_SERVICE_ACCOUNT_KEY looks like JSON but does not parse');
    return undefined;
  }
  const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const missing = ['project_id', 'client_email', 'private_key'].filter((k) => typeof o[k] !== 'string' || o[k] === '');
  if (missing.length > 0) {
    problems.push(`FIREBASE_SERVICE_ACCOUNT_KEY lacks ${missing.join(', ')}`);
    return undefined;
  }
  return Object.freeze({
    kind: 'json',
    projectId: o['project_id'] as string,
    clientEmail: o['client_email'] as string,
    privateKey: o['private_key'] as string,
  });
}

function blankToUndefined(s: string | undefined): string | undefined {
  const v = s?.trim();
  return v === undefined || v === '' ? undefined : v;
}
