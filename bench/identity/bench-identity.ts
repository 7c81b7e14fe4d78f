/**
 * Where a benchmark's ID tokens come from and how its server verifies them,
 * on one of two paths:
 *
 * - `production`: what production pays. Tokens are RS256-signed by a key made
 *   for the run, with the claims Firebase puts in a token after a sign-in;
 *   the server runs firebase-admin with emulator mode off and fetches the
 *   key endpoint over HTTPS from a local stand-in of Google
 *   (test/support/local-google.ts) through the adapter's `httpAgent`, then
 *   verifies each token locally against the cached keys.
 * - `emulator`: users imported into the Auth emulator and signed in there;
 *   firebase-admin skips the signature and asks the emulator about every
 *   token (a user lookup, an HTTP round trip production never makes).
 */
import { randomBytes } from 'node:crypto';
import { parseFirebaseConfig, type FirebaseConfig } from '../../adapters/identity/config.js';
import { createFirebaseIdentity } from '../../adapters/identity/firebase-identity.js';
import { EMULATOR_HOST, EMULATOR_PROJECT, useAuthEmulator } from '../../test/support/firebase-emulator.js';
import { makeSigningKey, signRs256, type SigningKey } from '../../test/support/google-certs.js';
import { localGoogleAgent, startLocalGoogle, type LocalGoogle } from '../../test/support/local-google.js';
import { mintTokens, type UserSpec } from '../ingest/tokens.js';

export const IDENTITY_PATHS = ['production', 'emulator'] as const;
export type IdentityPath = (typeof IDENTITY_PATHS)[number];
export const isIdentityPath = (s: string): s is IdentityPath => (IDENTITY_PATHS as readonly string[]).includes(s);

/** What the server process needs to verify the tokens (serialisable: it crosses to the child as JSON). */
export type ServerIdentity =
  | { readonly path: 'production'; readonly projectId: string; readonly port: number; readonly caPem: string }
  | { readonly path: 'emulator'; readonly projectId: string; readonly host: string };

/** Mints tokens for users and says how to verify them. */
export interface TokenSource {
  readonly path: IdentityPath;
  readonly server: ServerIdentity;
  /** The stand-in's request counts (production only). */
  readonly google: LocalGoogle | undefined;
  /** The key the tokens are signed with (production only). */
  readonly signingKey: SigningKey | undefined;
  /** One fresh ID token per user, in order. */
  mint(specs: readonly UserSpec[], log: (s: string) => void): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Opens the path's token source in this (the orchestrating) process. The
 * emulator path sets `FIREBASE_AUTH_EMULATOR_HOST` here, as firebase-admin
 * wants; the production path leaves it unset and needs no emulator at all.
 */
export async function openTokenSource(path: IdentityPath): Promise<TokenSource> {
  if (path === 'production') {
    const key = makeSigningKey(`bench-${randomBytes(4).toString('hex')}`);
    const google = await startLocalGoogle({ projectId: EMULATOR_PROJECT, keys: [key] });
    return {
      path,
      server: { path, projectId: EMULATOR_PROJECT, port: google.port, caPem: google.caPem },
      google,
      signingKey: key,
      mint: (specs, log) => {
        const tokens = signedTokens(key, EMULATOR_PROJECT, specs);
        log(`signed ${tokens.length} ID tokens with the run's key`);
        return Promise.resolve(tokens);
      },
      close: () => google.close(),
    };
  }
  process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST;
  const releases: (() => void | Promise<void>)[] = [];
  await useAuthEmulator({ teardown: (fn) => void releases.push(fn) });
  const identity = createFirebaseIdentity(parseFirebaseConfig({ NODE_ENV: 'test' }));
  return {
    path,
    server: { path, projectId: EMULATOR_PROJECT, host: EMULATOR_HOST },
    google: undefined,
    signingKey: undefined,
    mint: (specs, log) => mintTokens(identity.auth, EMULATOR_HOST, specs, log),
    close: async () => {
      await identity.close();
      for (const r of releases) await r();
    },
  };
}

/**
 * The server's side: the Firebase config its identity adapter gets and the
 * agent firebase-admin reaches Google through. On the production path the
 * config has no emulator host, so firebase-admin checks signatures; its mode
 * stays `test`, so everything else keyed on it (pushes go to the local FCM
 * stand-in) is what the emulator runs had, and only verification differs.
 */
export function serverIdentity(si: ServerIdentity): {
  firebase: FirebaseConfig;
  agent: ReturnType<typeof localGoogleAgent> | undefined;
} {
  if (si.path === 'emulator') {
    return {
      firebase: parseFirebaseConfig({
        NODE_ENV: 'test',
        FIREBASE_PROJECT_ID: si.projectId,
        FIREBASE_AUTH_EMULATOR_HOST: si.host,
      }),
      agent: undefined,
    };
  }
  // An inherited emulator variable would make the adapter refuse the production config.
  delete process.env['FIREBASE_AUTH_EMULATOR_HOST'];
  const test = parseFirebaseConfig({ NODE_ENV: 'test', FIREBASE_PROJECT_ID: si.projectId });
  return {
    firebase: Object.freeze({ ...test, emulatorHost: undefined }),
    agent: localGoogleAgent(si.port, si.caPem),
  };
}

/**
 * ID tokens shaped as Firebase issues them after a custom-token sign-in (the
 * emulator path's tokens carry the same claims): verified email, a phone
 * number, the users' custom claims; valid for an hour.
 */
export function signedTokens(key: SigningKey, projectId: string, specs: readonly UserSpec[]): string[] {
  const now = Math.floor(Date.now() / 1000);
  const phoneBase = 900_000_000 + (randomBytes(4).readUInt32BE() % 50_000_000);
  return specs.map((s, i) => {
    const email = `${s.uid}@example.test`;
    const phone = `+91${phoneBase + i}`;
    return signRs256(key, {
      ...s.claims,
      iss: `https://securetoken.google.com/${projectId}`,
      aud: projectId,
      auth_time: now,
      user_id: s.uid,
      sub: s.uid,
      iat: now,
      exp: now + 3600,
      email,
      email_verified: true,
      phone_number: phone,
      firebase: { identities: { email: [email], phone: [phone] }, sign_in_provider: 'custom' },
    });
  });
}
