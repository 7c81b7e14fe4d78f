/**
 * Real identities for the benchmarks: users imported into the Auth emulator in
 * batches of 1000 (verified email, phone, role claims), then each signed in
 * once through the emulator's REST API (`signInWithCustomToken`, what a
 * client SDK does) for its own ID token. Every connection and request in a
 * bench is a distinct user with its own token; nothing is shared or
 * pre-approved.
 */
import { randomBytes } from 'node:crypto';
import type { Auth } from 'firebase-admin/auth';

/** One user to make: its uid (unique per run) and custom claims. */
export interface UserSpec {
  readonly uid: string;
  readonly claims: Record<string, string>;
}

/** Makes the users and answers one fresh ID token per user, in order. */
export async function mintTokens(
  auth: Auth,
  emulatorHost: string,
  specs: readonly UserSpec[],
  log: (s: string) => void,
): Promise<string[]> {
  const n = specs.length;
  const run = randomBytes(4).toString('hex');
  const phoneBase = 900_000_000 + (parseInt(run, 16) % 50_000_000);
  const uids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const users = specs.slice(i, i + 1000).map((s, k) => {
      const uid = s.uid;
      uids.push(uid);
      return {
        uid,
        email: `${uid}@example.test`,
        emailVerified: true,
        phoneNumber: `+91${phoneBase + i + k}`,
        customClaims: s.claims,
      };
    });
    const res = await auth.importUsers(users);
    if (res.failureCount > 0) throw new Error(`importing users: ${res.errors[0]?.error.message ?? 'failed'}`);
  }
  log(`imported ${n} users`);
  const url = `http://${emulatorHost}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=emulator`;
  const tokens = new Array<string>(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const custom = await auth.createCustomToken(uids[i]!);
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: custom, returnSecureToken: true }),
      });
      const body = (await r.json()) as { idToken?: string; error?: { message?: string } };
      if (!body.idToken) throw new Error(`sign-in of ${uids[i]}: ${body.error?.message ?? r.status}`);
      tokens[i] = body.idToken;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  log(`signed in ${n} users`);
  return tokens;
}

/** `n` rider users (role rider, rider_id = their uid) and one ID token each. */
export async function riderTokens(
  auth: Auth,
  emulatorHost: string,
  n: number,
  log: (s: string) => void,
): Promise<string[]> {
  return mintTokens(auth, emulatorHost, riderSpecs(n), log);
}

/** `n` rider users of a run: role rider, rider_id = their uid. */
export function riderSpecs(n: number): UserSpec[] {
  const run = randomBytes(4).toString('hex');
  return Array.from({ length: n }, (_, i) => {
    const uid = `bench-${run}-${i}`;
    return { uid, claims: { role: 'rider', rider_id: uid } };
  });
}
