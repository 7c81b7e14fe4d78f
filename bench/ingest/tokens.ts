/**
 * Real rider identities for the ingest bench: users imported into the Auth
 * emulator in batches of 1000 (verified email, phone, role and rider_id
 * claims), then each signed in once through the emulator's REST API
 * (`signInWithCustomToken`, what a client SDK does) for its own ID token.
 * Every connection in the bench is a distinct rider with its own token;
 * nothing is shared or pre-approved.
 */
import { randomBytes } from 'node:crypto';
import type { Auth } from 'firebase-admin/auth';

/** Makes `n` rider users and answers one fresh ID token per rider. */
export async function riderTokens(auth: Auth, emulatorHost: string, n: number, log: (s: string) => void): Promise<string[]> {
  const run = randomBytes(4).toString('hex');
  const phoneBase = 900_000_000 + (parseInt(run, 16) % 50_000_000);
  const uids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const users = Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
      const uid = `bench-${run}-${i + k}`;
      uids.push(uid);
      return {
        uid, email: `${uid}@example.test`, emailVerified: true, phoneNumber: `+91${phoneBase + i + k}`,
        customClaims: { role: 'rider', rider_id: uid },
      };
    });
    const res = await auth.importUsers(users);
    if (res.failureCount > 0) throw new Error(`importing users: ${res.errors[0]?.error.message ?? 'failed'}`);
  }
  log(`imported ${n} rider users`);
  const url = `http://${emulatorHost}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=emulator`;
  const tokens = new Array<string>(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const custom = await auth.createCustomToken(uids[i]!);
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: custom, returnSecureToken: true }) });
      const body = (await r.json()) as { idToken?: string; error?: { message?: string } };
      if (!body.idToken) throw new Error(`sign-in of ${uids[i]}: ${body.error?.message ?? r.status}`);
      tokens[i] = body.idToken;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  log(`signed in ${n} riders`);
  return tokens;
}
