import t from 'tap';
import { randomBytes } from 'node:crypto';
import { FieldCipher, FieldCipherError, parseEncryptionKey } from '../../../adapters/crypto/field-cipher.js';

const key = randomBytes(32);
const cipher = new FieldCipher(key);
const bank = JSON.stringify({ account: '000123456789', ifsc: 'HDFC0001234', holder: 'A Rider' });

t.test('round trip, with a fresh IV each time', async (t) => {
  const a = cipher.encrypt(bank, 'rider-1');
  const b = cipher.encrypt(bank, 'rider-1');
  t.not(a.toString('hex'), b.toString('hex'), 'same plaintext, different ciphertexts');
  t.equal(cipher.decryptString(a, 'rider-1'), bank);
  t.notOk(a.includes(Buffer.from('000123456789')), 'the account number is not in the stored bytes');
});

t.test('tampering is an error, never garbage', async (t) => {
  const c = cipher.encrypt(bank, 'rider-1');
  for (const at of [0, 1, 13, c.length - 20, c.length - 1]) {
    const bad = Buffer.from(c);
    bad[at] = bad[at]! ^ 0x01;
    t.throws(() => cipher.decrypt(bad, 'rider-1'), FieldCipherError, `flipped bit at byte ${at}`);
  }
  t.throws(() => cipher.decrypt(c.subarray(0, c.length - 1), 'rider-1'), FieldCipherError, 'truncated');
  t.throws(() => cipher.decrypt(c.subarray(0, 10)), FieldCipherError, 'too short');
});

t.test('another context or another key does not decrypt', async (t) => {
  const c = cipher.encrypt(bank, 'rider-1');
  t.throws(() => cipher.decrypt(c, 'rider-2'), FieldCipherError, 'copied onto another rider');
  t.throws(() => new FieldCipher(randomBytes(32)).decrypt(c, 'rider-1'), FieldCipherError, 'other key');
});

t.test('ENCRYPTION_KEY parsing', async (t) => {
  t.same(parseEncryptionKey(key.toString('hex')), key, 'hex');
  t.same(parseEncryptionKey(key.toString('base64')), key, 'base64');
  t.throws(() => parseEncryptionKey(undefined), /ENCRYPTION_KEY is not set/);
  t.throws(() => parseEncryptionKey(randomBytes(16).toString('base64')), /32 bytes/);
  t.throws(() => new FieldCipher(randomBytes(16)), FieldCipherError);
});
