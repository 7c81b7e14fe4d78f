/**
 * Real users on the Auth emulator: created and signed in through the
 * emulator's REST API (what a client SDK does), with claims, verified email,
 * phone number and disabling set through firebase-admin (what our servers
 * and the roles command do). Every user gets a unique email and phone number,
 * so test files can run in parallel against one emulator.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Auth } from 'firebase-admin/auth';
import { EMULATOR_HOST, EMULATOR_PROJECT } from './firebase-emulator.js';

const PASSWORD = 'correct-horse-battery-staple';
const IDENTITY = `http://${EMULATOR_HOST}/identitytoolkit.googleapis.com/v1`;

/** What a test needs to know about a user it made. */
export interface TestUser {
  readonly uid: string;
  readonly email: string;
  readonly phone: string | undefined;
  readonly password: string;
  /** A fresh ID token carrying the claims as set at creation. */
  readonly token: string;
}

/** How to make a user; by default a fully verified customer. */
export interface UserSpec {
  readonly label?: string;
  readonly claims?: Record<string, unknown>;
  readonly emailVerified?: boolean;
  /** False: no phone number on the account. */
  readonly phone?: boolean;
  readonly noEmail?: boolean;
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${IDENTITY}/${path}?key=any-key-works-on-the-emulator`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T & { error?: { message?: string } };
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${json.error?.message ?? ''}`);
  return json;
}

/** A unique email address under a reserved test domain. */
export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomUUID()}@example.test`;
}

/** A unique Indian mobile number in E.164 (Firebase refuses duplicates across accounts). */
export function uniquePhone(): string {
  const digits = BigInt(`0x${randomBytes(8).toString('hex')}`) % 1_000_000_000n;
  return `+919${digits.toString().padStart(9, '0')}`;
}

/** Signs up with email and password through the emulator REST API. */
export async function signUp(email: string, password = PASSWORD): Promise<{ uid: string; idToken: string }> {
  const r = await post<{ localId: string; idToken: string }>('accounts:signUp', {
    email,
    password,
    returnSecureToken: true,
  });
  return { uid: r.localId, idToken: r.idToken };
}

/** Signs in with email and password; the returned ID token carries the current claims. */
export async function signIn(email: string, password = PASSWORD): Promise<string> {
  const r = await post<{ idToken: string }>('accounts:signInWithPassword', {
    email,
    password,
    returnSecureToken: true,
  });
  return r.idToken;
}

/** An anonymous account: no email, no phone. */
export async function signUpAnonymously(): Promise<{ uid: string; idToken: string }> {
  const r = await post<{ localId: string; idToken: string }>('accounts:signUp', { returnSecureToken: true });
  return { uid: r.localId, idToken: r.idToken };
}

/**
 * Wipes every account of the project. Only for a run that owns the emulator
 * alone: files running in parallel share it, which is why users are unique
 * rather than cleared.
 */
export async function clearAccounts(): Promise<void> {
  const res = await fetch(`http://${EMULATOR_HOST}/emulator/v1/projects/${EMULATOR_PROJECT}/accounts`, {
    method: 'DELETE',
  });
  if (!res.ok) throw new Error(`clearing accounts: ${res.status}`);
}

/** Makes a user as `spec` says and signs it in for a token with its claims. */
export async function makeUser(auth: Auth, spec: UserSpec = {}): Promise<TestUser> {
  if (spec.noEmail === true) {
    const anon = await signUpAnonymously();
    const phone = spec.phone === false ? undefined : uniquePhone();
    if (phone !== undefined) await auth.updateUser(anon.uid, { phoneNumber: phone });
    if (spec.claims !== undefined) await auth.setCustomUserClaims(anon.uid, spec.claims);
    // An anonymous account cannot sign in again with a password: mint a token via a custom token.
    const token = await exchangeCustomToken(await auth.createCustomToken(anon.uid));
    return { uid: anon.uid, email: '', phone, password: '', token };
  }
  const email = uniqueEmail(spec.label);
  const { uid } = await signUp(email);
  const phone = spec.phone === false ? undefined : uniquePhone();
  await auth.updateUser(uid, {
    emailVerified: spec.emailVerified ?? true,
    ...(phone === undefined ? {} : { phoneNumber: phone }),
  });
  if (spec.claims !== undefined) await auth.setCustomUserClaims(uid, spec.claims);
  return { uid, email, phone, password: PASSWORD, token: await signIn(email) };
}

/** Exchanges a custom token for an ID token, as the client SDK's signInWithCustomToken does. */
export async function exchangeCustomToken(customToken: string): Promise<string> {
  const r = await post<{ idToken: string }>('accounts:signInWithCustomToken', {
    token: customToken,
    returnSecureToken: true,
  });
  return r.idToken;
}

/**
 * Waits until the wall clock enters a new second. Firebase stores revocation
 * times in whole seconds and compares them with the token's `auth_time`: a
 * revocation in the same second as the sign-in would not revoke it.
 */
export async function nextSecond(): Promise<void> {
  const ms = 1000 - (Date.now() % 1000) + 20;
  await new Promise((r) => setTimeout(r, ms));
}

/** Rewrites an (unsigned, emulator) token's payload; only emulator mode accepts the result. */
export function rewritePayload(token: string, change: (p: Record<string, unknown>) => void): string {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  change(payload);
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s ?? ''}`;
}
