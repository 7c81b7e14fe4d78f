/**
 * `npm run roles -- grant|revoke <email-or-uid> <role> [--restaurant ID | --rider ID]`
 *
 * Composition root of the roles command: reads the Firebase configuration
 * from the environment (the same variables as the server; in development it
 * talks to the emulator at 127.0.0.1:9099), runs, and exits with its code.
 * In production it needs credentials allowed to manage users
 * (FIREBASE_SERVICE_ACCOUNT_KEY or Application Default Credentials).
 */
import { FirebaseConfigError, parseFirebaseConfig } from '../adapters/identity/config.js';
import { createFirebaseIdentity } from '../adapters/identity/firebase-identity.js';
import { ExitCode, USAGE, parseRolesArgs, runRoles } from '../adapters/identity/roles-command.js';

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.Ok;
  }
  // Refuse bad usage before touching Firebase.
  const parsed = parseRolesArgs(argv);
  if (typeof parsed === 'string') {
    process.stderr.write(`roles: ${parsed}\n\n${USAGE}\n`);
    return ExitCode.Usage;
  }
  let identity;
  try {
    identity = createFirebaseIdentity(parseFirebaseConfig(process.env), { appName: 'roles-command' });
  } catch (e) {
    if (!(e instanceof FirebaseConfigError)) throw e;
    process.stderr.write(`roles: ${e.message}\n`);
    return ExitCode.Failed;
  }
  try {
    return await runRoles(argv, identity.auth, {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    await identity.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
