import t from 'tap';
import {
  DEFAULT_EMULATOR_HOST,
  DEFAULT_PROJECT_ID,
  FirebaseConfigError,
  parseFirebaseConfig,
} from '../../../adapters/identity/config.js';
import { rejectionFromFirebase, FIREBASE_ERROR_CODES } from '../../../adapters/identity/firebase-errors.js';
import { ErrorCodes } from '../../../protocol/index.js';

const KEY = JSON.stringify({
  type: 'service_account',
  project_id: 'dispatch-prod',
  client_email: 'svc@dispatch-prod.iam.gserviceaccount.com',
  private_key: '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n',
});

t.test('development and test get the demo project and the local emulator', async (t) => {
  for (const NODE_ENV of [undefined, '', 'development', 'test']) {
    const c = parseFirebaseConfig({ NODE_ENV });
    t.equal(c.projectId, DEFAULT_PROJECT_ID, `NODE_ENV=${NODE_ENV}`);
    t.equal(c.emulatorHost, DEFAULT_EMULATOR_HOST);
    t.equal(c.serviceAccountKey, undefined);
    t.ok(Object.isFrozen(c));
  }
  t.equal(DEFAULT_PROJECT_ID, 'demo-dispatch');
  t.equal(DEFAULT_EMULATOR_HOST, '127.0.0.1:9099');
  t.equal(
    parseFirebaseConfig({ NODE_ENV: 'test', FIREBASE_AUTH_EMULATOR_HOST: 'localhost:9199' }).emulatorHost,
    'localhost:9199',
  );
});

t.test('production refuses the emulator variable, and says why', async (t) => {
  t.throws(
    () =>
      parseFirebaseConfig({
        NODE_ENV: 'production',
        FIREBASE_PROJECT_ID: 'dispatch-prod',
        FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099',
      }),
    { name: 'FirebaseConfigError', message: /FIREBASE_AUTH_EMULATOR_HOST is set .* NODE_ENV=production/ },
  );
  // Any environment that is not development or test is treated as production.
  t.throws(
    () =>
      parseFirebaseConfig({
        NODE_ENV: 'staging',
        FIREBASE_PROJECT_ID: 'dispatch-prod',
        FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099',
      }),
    FirebaseConfigError,
  );
});

t.test('production: no defaults, project required, credentials parsed', async (t) => {
  t.throws(() => parseFirebaseConfig({ NODE_ENV: 'production' }), { message: /FIREBASE_PROJECT_ID is required/ });
  const adc = parseFirebaseConfig({ NODE_ENV: 'production', FIREBASE_PROJECT_ID: 'dispatch-prod' });
  t.match(adc, {
    mode: 'production',
    projectId: 'dispatch-prod',
    emulatorHost: undefined,
    serviceAccountKey: undefined,
  });
  const inline = parseFirebaseConfig({ NODE_ENV: 'production', FIREBASE_SERVICE_ACCOUNT_KEY: KEY });
  t.match(inline, {
    projectId: 'dispatch-prod',
    serviceAccountKey: { kind: 'json', clientEmail: 'svc@dispatch-prod.iam.gserviceaccount.com' },
  });
  const path = parseFirebaseConfig({
    NODE_ENV: 'production',
    FIREBASE_PROJECT_ID: 'dispatch-prod',
    FIREBASE_SERVICE_ACCOUNT_KEY: '/run/secrets/firebase.json',
  });
  t.same(path.serviceAccountKey, { kind: 'path', path: '/run/secrets/firebase.json' });
});

t.test('bad values are refused, all at once, without echoing secrets', async (t) => {
  const err = t.throws(() =>
    parseFirebaseConfig({
      NODE_ENV: 'production',
      FIREBASE_PROJECT_ID: 'Not A Project',
      FIREBASE_AUTH_EMULATOR_HOST: 'http://127.0.0.1:9099',
      FIREBASE_SERVICE_ACCOUNT_KEY: '{"private_key": "s3cr3t"',
    }),
  ) as Error;
  t.match(err.message, /FIREBASE_AUTH_EMULATOR_HOST is set/);
  t.match(err.message, /host:port without a scheme/);
  t.match(err.message, /does not parse/);
  t.match(err.message, /not a Firebase project id/);
  t.notMatch(err.message, /s3cr3t/);
  t.throws(() => parseFirebaseConfig({ FIREBASE_SERVICE_ACCOUNT_KEY: '{"project_id":"dispatch-prod"}' }), {
    message: /lacks client_email, private_key/,
  });
  t.throws(
    () =>
      parseFirebaseConfig({
        NODE_ENV: 'production',
        FIREBASE_PROJECT_ID: 'other-project',
        FIREBASE_SERVICE_ACCOUNT_KEY: KEY,
      }),
    { message: /differs from the service account/ },
  );
});

t.test('every firebase-admin code maps to an AUTH_* code of the right status', async (t) => {
  for (const [fb, code] of Object.entries(FIREBASE_ERROR_CODES)) {
    t.ok(code.startsWith('AUTH_'), fb);
    t.ok([401, 503].includes(ErrorCodes[code].http), `${fb} → ${code}`);
    const r = rejectionFromFirebase(Object.assign(new Error('boom. See https://example'), { code: fb }));
    t.equal(r.code, code);
    t.match(r.detail, fb);
  }
  t.equal(rejectionFromFirebase(new Error('socket hang up')).code, 'AUTH_UNAVAILABLE', 'unknown errors fail closed');
  t.equal(rejectionFromFirebase(Object.assign(new Error('x'), { code: 'ECONNRESET' })).code, 'AUTH_UNAVAILABLE');
  t.equal(
    rejectionFromFirebase(Object.assign(new Error('x'), { code: 'auth/something-new' })).code,
    'AUTH_UNAVAILABLE',
  );
  t.equal(rejectionFromFirebase('not even an error').code, 'AUTH_UNAVAILABLE');
  const keys = Object.assign(new Error('Error fetching public keys for Google certs: backend_error'), {
    code: 'auth/argument-error',
  });
  t.equal(rejectionFromFirebase(keys).code, 'AUTH_UNAVAILABLE', 'a key fetch failure is an outage, not a bad token');
});
