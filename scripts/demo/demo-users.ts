/**
 * The demo's people, made on the Firebase Auth emulator the way docs/identity.md
 * describes: signed up through the emulator's REST API (what a client SDK
 * does), given a verified email and phone number and their role claims through
 * firebase-admin (what the roles command does), then signed in for an ID
 * token carrying the claims. Emulator only: against real Firebase the demo
 * refuses to start. Every account it made is deleted when it stops.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getAuth, type Auth } from 'firebase-admin/auth';

/** Tokens are signed in again after this long (emulator ID tokens live an hour). */
const REFRESH_MS = 45 * 60_000;

export interface DemoUser {
  readonly uid: string;
  readonly email: string;
  readonly claims: Record<string, string>;
  /** A current ID token (signed in again when the last one is old). */
  token(): Promise<string>;
}

export class DemoUsers {
  readonly #host: string;
  readonly #app: App;
  readonly #auth: Auth;
  readonly #password = randomBytes(12).toString('hex');
  readonly #made: string[] = [];
  readonly #run = randomBytes(3).toString('hex');

  /** `emulatorHost` is FIREBASE_AUTH_EMULATOR_HOST (host:port). */
  constructor(emulatorHost: string, projectId: string) {
    this.#host = emulatorHost;
    // firebase-admin talks to the emulator when this variable is set.
    process.env['FIREBASE_AUTH_EMULATOR_HOST'] = emulatorHost;
    this.#app = initializeApp({ projectId }, `demo-${randomUUID()}`);
    this.#auth = getAuth(this.#app);
  }

  /** Uids of every account made so far. */
  get uids(): readonly string[] {
    return this.#made;
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(`http://${this.#host}/identitytoolkit.googleapis.com/v1/${path}?key=demo-key`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json()) as T & { error?: { message?: string } };
    if (!res.ok) throw new Error(`Auth emulator ${path}: ${res.status} ${json.error?.message ?? ''}`);
    return json;
  }

  async #signIn(email: string): Promise<string> {
    const r = await this.#post<{ idToken: string }>('accounts:signInWithPassword', {
      email,
      password: this.#password,
      returnSecureToken: true,
    });
    return r.idToken;
  }

  /** A new account with a verified email and phone number, and `claims`. */
  async make(label: string, claims: Record<string, string> = {}): Promise<DemoUser> {
    const email = `demo-${this.#run}-${label}@example.test`;
    const { localId: uid } = await this.#post<{ localId: string }>('accounts:signUp', {
      email,
      password: this.#password,
      returnSecureToken: true,
    });
    this.#made.push(uid);
    const digits = BigInt(`0x${randomBytes(8).toString('hex')}`) % 1_000_000_000n;
    await this.#auth.updateUser(uid, { emailVerified: true, phoneNumber: `+919${digits.toString().padStart(9, '0')}` });
    if (Object.keys(claims).length > 0) await this.#auth.setCustomUserClaims(uid, claims);
    let token = await this.#signIn(email);
    let at = Date.now();
    return {
      uid,
      email,
      claims,
      token: async () => {
        if (Date.now() - at > REFRESH_MS) {
          token = await this.#signIn(email);
          at = Date.now();
        }
        return token;
      },
    };
  }

  /** Deletes every account this run made, and lets go of firebase-admin. */
  async close(): Promise<void> {
    try {
      for (let i = 0; i < this.#made.length; i += 1000) await this.#auth.deleteUsers(this.#made.slice(i, i + 1000));
      this.#made.length = 0;
    } finally {
      await deleteApp(this.#app);
    }
  }
}
