/**
 * The firebase-admin adapter of the {@link IdentityVerifier} port.
 *
 * Each instance owns a named firebase-admin app, so two verifiers (two
 * projects, or an emulator one and a production one in different tests) can
 * live in one process; `close()` deletes the app.
 */
import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { applicationDefault, cert, deleteApp, initializeApp, type App, type Credential } from 'firebase-admin/app';
import { getAuth, type Auth } from 'firebase-admin/auth';
import type { VerifyOptions } from '../../engine/ports/identity.js';
import { IdentityClaim, reject, type Principal, type Rejection, type Result } from '../../protocol/index.js';
import type { ScreeningVerifier } from './caching-identity.js';
import { FirebaseConfigError, type FirebaseConfig } from './config.js';
import { rejectionFromFirebase } from './firebase-errors.js';
import { peekClaimedRole, principalFromClaims } from './principal-from-token.js';

const EMULATOR_VAR = 'FIREBASE_AUTH_EMULATOR_HOST';
// A Firebase ID token is a few hundred bytes to ~1.5 KB; custom claims add at
// most 1000 bytes. Anything far larger is refused before any work is done.
const MAX_TOKEN_LENGTH = 8192;

/** Options of {@link createFirebaseIdentity}. */
export interface FirebaseIdentityOptions {
  /** Name of the firebase-admin app; unique by default. */
  readonly appName?: string;
  /**
   * The agent firebase-admin makes its HTTPS calls through: Google's signing
   * keys, user lookups and the credential's OAuth token. Left out, Node's
   * global agent, as in production. A benchmark or test passes one that
   * reaches a local stand-in of Google's endpoints, so the production
   * verification path runs without the network.
   */
  readonly httpAgent?: Agent;
  /**
   * A credential instead of the config's, for tests. firebase-admin 13 does
   * not send a service account's OAuth request through `httpAgent` (it builds
   * the JWT client without the agent), so a test of user lookups against a
   * stand-in brings a credential that needs no network.
   */
  readonly credential?: Credential;
}

/** A verifier that also owns resources. */
export interface FirebaseIdentity extends ScreeningVerifier {
  /** The firebase-admin Auth of this verifier, for tools (roles command, tests). */
  readonly auth: Auth;
  readonly config: FirebaseConfig;
  /** Deletes the firebase-admin app. */
  close(): Promise<void>;
}

/**
 * Creates the verifier from the parsed config.
 *
 * firebase-admin decides emulator mode from `process.env.FIREBASE_AUTH_EMULATOR_HOST`
 * at call time, not from its options. So this is the one place that touches
 * `process.env`: it sets the variable when the config selects the emulator
 * (the development default) and refuses to start when the process
 * environment and the config disagree, since a stray variable would make
 * firebase-admin accept unsigned tokens.
 *
 * @throws FirebaseConfigError when `process.env` contradicts the config.
 */
export function createFirebaseIdentity(config: FirebaseConfig, opts: FirebaseIdentityOptions = {}): FirebaseIdentity {
  const processEmulator = process.env[EMULATOR_VAR];
  if (config.emulatorHost === undefined && processEmulator !== undefined && processEmulator !== '') {
    throw new FirebaseConfigError(
      `${EMULATOR_VAR}=${processEmulator} is set in the process but the config selects real Firebase`,
    );
  }
  if (config.emulatorHost !== undefined) {
    if (processEmulator !== undefined && processEmulator !== '' && processEmulator !== config.emulatorHost) {
      throw new FirebaseConfigError(
        `${EMULATOR_VAR}=${processEmulator} in the process differs from the configured ${config.emulatorHost}`,
      );
    }
    process.env[EMULATOR_VAR] = config.emulatorHost;
  }

  const agent = opts.httpAgent;
  const app = initializeApp(
    {
      projectId: config.projectId,
      credential: opts.credential ?? credentialOf(config, agent),
      ...(agent !== undefined ? { httpAgent: agent } : {}),
    },
    opts.appName ?? `dispatch-identity-${randomUUID()}`,
  );
  return new FirebaseIdentityVerifier(app, config);
}

/**
 * The service account key, or Application Default Credentials without one.
 * firebase-admin caches credentials per key (ADC once per process), so the
 * agent of the first call for a key is the one its OAuth requests use.
 */
export function credentialOf(config: FirebaseConfig, httpAgent?: Agent): Credential {
  const key = config.serviceAccountKey;
  if (key === undefined) return applicationDefault(httpAgent);
  if (key.kind === 'path') return cert(key.path, httpAgent);
  return cert({ projectId: key.projectId, clientEmail: key.clientEmail, privateKey: key.privateKey }, httpAgent);
}

class FirebaseIdentityVerifier implements FirebaseIdentity {
  readonly auth: Auth;

  constructor(
    private readonly app: App,
    readonly config: FirebaseConfig,
  ) {
    this.auth = getAuth(app);
  }

  /** The checks made before any verification work: no token, an oversize one, emulator mode changed at run time. */
  screen(token: string): Rejection | undefined {
    if (typeof token !== 'string' || token.trim() === '') {
      return reject('AUTH_TOKEN_MISSING', 'no bearer token was given');
    }
    if (token.length > MAX_TOKEN_LENGTH) {
      return reject('AUTH_TOKEN_INVALID', `token longer than ${MAX_TOKEN_LENGTH} characters`);
    }
    const drift = this.modeDrift();
    if (drift !== undefined) return reject('AUTH_UNAVAILABLE', drift);
    return undefined;
  }

  async verify(token: string, opts: VerifyOptions = {}): Promise<Result<Principal>> {
    const screened = this.screen(token);
    if (screened !== undefined) return screened;

    // An admin claim (read unverified) only ever adds checks, never removes one.
    const claimsAdmin = peekClaimedRole(token) === 'admin';
    const checkRevoked = opts.checkRevoked === true || claimsAdmin;
    let claims;
    try {
      claims = await this.auth.verifyIdToken(token, checkRevoked);
    } catch (err) {
      return rejectionFromFirebase(err);
    }

    const built = principalFromClaims(claims, checkRevoked);
    if (!built.ok || built.value.role !== 'admin') return built;
    if (!checkRevoked) {
      // Cannot happen (the verified payload is the peeked one); refuse rather than trust.
      return reject('AUTH_TOKEN_INVALID', 'admin token was not checked for revocation');
    }
    return this.confirmAdmin(built.value);
  }

  async close(): Promise<void> {
    await deleteApp(this.app);
  }

  /**
   * Looks the role up server-side: the token may say admin while the account
   * no longer does (the roles command removed it). Then the token is as good
   * as revoked, whatever its expiry says.
   */
  private async confirmAdmin(p: Principal): Promise<Result<Principal>> {
    let current: unknown;
    try {
      const user = await this.auth.getUser(p.uid);
      if (user.disabled) return reject('AUTH_USER_DISABLED', 'the user account is disabled');
      current = user.customClaims?.[IdentityClaim.Role];
    } catch (err) {
      return rejectionFromFirebase(err);
    }
    if (current !== 'admin') {
      return reject('AUTH_TOKEN_REVOKED', 'the admin role was removed from this account; sign in again');
    }
    return { ok: true, value: p };
  }

  // firebase-admin reads the variable at every call: if someone set or
  // changed it after start-up, fail closed instead of trusting unsigned tokens.
  private modeDrift(): string | undefined {
    const now = process.env[EMULATOR_VAR];
    const want = this.config.emulatorHost;
    if ((now ?? '') === (want ?? '')) return undefined;
    return `identity misconfigured: ${EMULATOR_VAR} changed at run time`;
  }
}
