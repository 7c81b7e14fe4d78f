/**
 * The logger: pino's JSON lines, levels from LOG_LEVEL, and redaction of every
 * kind of personal or secret field the issue names (phone numbers, emails,
 * tokens, bank and document fields), fed through the real logger into a
 * stream and read back.
 */
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import t from 'tap';
import { CENSOR, createLogger, parseLogConfig, REDACTED_FIELDS } from '../../../adapters/observability/logger.js';

function capture(level: 'info' | 'warn' | 'debug' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString());
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level, destination, base: { service: 'test' } }), lines, raw };
}

// Values no log line may carry, each in the shape a request, a socket or a push would log it.
const PHONE = '+91-9876543210';
const EMAIL = 'priya.customer@example.com';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.secret-id-token.sig';
const ACCOUNT = '123456789012';
const IFSC = 'HDFC0001234';
const LICENSE = 'MH12AB1234';
const DOC_URL = 'https://files.example/dl-scan.jpg';
const VPA = 'priya@okhdfc';
const SECRET = 'rzp_live_key_secret_value';

t.test('every personal and secret field is redacted, at any depth the server logs', async (t) => {
  const { log, lines, raw } = capture();
  log.info({
    msg: 'request',
    request_id: 'req-1',
    order_id: 'order-1',
    phone: PHONE,
    body: {
      contact: { phone: PHONE, email: EMAIL },
      bank_details: { account_number: ACCOUNT, ifsc_code: IFSC, account_holder_name: 'Priya' },
      documents: { driving_license: DOC_URL, vehicle_registration: DOC_URL, insurance: DOC_URL },
      license_number: LICENSE,
      payment_method: { type: 'UPI', vpa: VPA },
    },
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  log.info({ msg: 'push (FCM stand-in)', token: TOKEN, data: { email: EMAIL } });
  log.warn({ msg: 'gateway', config: { keySecret: SECRET, api_key: SECRET } });
  log.info({ msg: 'deep', a: { b: { c: { account_number: ACCOUNT, idToken: TOKEN } } } });
  const all = raw.join('');
  for (const secret of [PHONE, EMAIL, TOKEN, ACCOUNT, IFSC, LICENSE, DOC_URL, VPA, SECRET])
    t.notOk(all.includes(secret), `${secret} never written`);
  t.equal(lines.length, 4);
  const first = lines[0] as Record<string, any>;
  t.equal(first.phone, CENSOR);
  t.equal(first.body.contact.phone, CENSOR);
  t.equal(first.body.contact.email, CENSOR);
  t.equal(first.body.bank_details, CENSOR, 'bank details go whole');
  t.equal(first.body.documents, CENSOR, 'documents go whole');
  t.equal(first.body.license_number, CENSOR);
  t.equal(first.body.payment_method.vpa, CENSOR);
  t.equal(first.body.payment_method.type, 'UPI', 'what is not personal stays');
  t.equal(first.headers.authorization, CENSOR);
  t.equal(first.request_id, 'req-1', 'ids stay: a line must be traceable');
  t.equal(first.order_id, 'order-1');
  t.equal((lines[1] as any).token, CENSOR);
  t.equal((lines[2] as any).config.keySecret, CENSOR);
  t.equal((lines[3] as any).a.b.c.account_number, CENSOR);
  t.equal((lines[3] as any).a.b.c.idToken, CENSOR);
  t.ok(REDACTED_FIELDS.length > 20);
});

t.test('one JSON object per line with level by name, time, service and msg', async (t) => {
  const { log, lines } = capture();
  log.info({ msg: 'hello', n: 1 });
  t.match(lines[0], { level: 'info', service: 'test', msg: 'hello', n: 1 });
  t.match(String(lines[0]!['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

t.test('LOG_LEVEL decides what is written', async (t) => {
  const warnOnly = capture('warn');
  warnOnly.log.info({ msg: 'quiet' });
  warnOnly.log.warn({ msg: 'loud' });
  t.same(
    warnOnly.lines.map((l) => l['msg']),
    ['loud'],
  );
  const debug = capture('debug');
  debug.log.debug({ msg: 'detail' });
  t.same(
    debug.lines.map((l) => l['msg']),
    ['detail'],
  );
});

t.test('LOG_LEVEL and LOG_FORMAT: defaults, pretty only in development on a terminal, bad values listed', async (t) => {
  t.same(parseLogConfig({}, 'production', true), { level: 'info', format: 'json', problems: [] });
  t.same(parseLogConfig({}, 'test', true), { level: 'info', format: 'json', problems: [] }, 'never pretty in tests');
  t.same(parseLogConfig({}, 'development', false), { level: 'info', format: 'json', problems: [] });
  t.equal(parseLogConfig({}, 'development', true).format, 'pretty');
  t.equal(parseLogConfig({ LOG_FORMAT: 'pretty' }, 'production', false).format, 'pretty', 'when asked');
  t.equal(parseLogConfig({ LOG_LEVEL: 'DEBUG' }, 'production', false).level, 'debug');
  const bad = parseLogConfig({ LOG_LEVEL: 'verbose', LOG_FORMAT: 'xml' }, 'production', false);
  t.equal(bad.problems.length, 2);
  t.match(bad.problems[0], /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
  t.match(bad.problems[1], /LOG_FORMAT must be json or pretty, got "xml"/);
});

t.test('pretty output goes through pino-pretty, still redacted', async (t) => {
  const code = `
    import { createLogger } from './adapters/observability/logger.js';
    createLogger({ format: 'pretty' }).info({ msg: 'pretty line', email: '${EMAIL}' });
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /INFO.*: pretty line/);
  t.match(r.stderr, /email: "\[redacted\]"/);
  t.notOk(r.stderr.includes(EMAIL));
  t.notOk(r.stderr.trimStart().startsWith('{'), 'not JSON');
});
