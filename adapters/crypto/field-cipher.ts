import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A key that is not 32 bytes, or a value that does not decrypt (tampered, wrong key, wrong context). */
export class FieldCipherError extends Error {
  override readonly name = 'FieldCipherError';
}

const VERSION = 1;
const IV_BYTES = 12; // the GCM standard nonce; random per value, so 2^32 values per key stay far from collision
const TAG_BYTES = 16;

/**
 * Encrypts single fields at rest (riders' bank details) with AES-256-GCM.
 * Stored form: version byte ‖ 12-byte random IV ‖ ciphertext ‖ 16-byte tag.
 * The optional `context` (say, the rider id) is authenticated but not stored,
 * so a ciphertext copied onto another row does not decrypt.
 */
export class FieldCipher {
  readonly #key: Buffer;

  /** @param key 32 bytes; {@link parseEncryptionKey} reads it from `ENCRYPTION_KEY`. */
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new FieldCipherError(`an AES-256 key is 32 bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  encrypt(plaintext: string | Uint8Array, context = ''): Buffer {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([
      c.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
      c.final(),
    ]);
    return Buffer.concat([Buffer.of(VERSION), iv, body, c.getAuthTag()]);
  }

  decrypt(stored: Uint8Array, context = ''): Buffer {
    const buf = Buffer.from(stored);
    if (buf.length < 1 + IV_BYTES + TAG_BYTES) throw new FieldCipherError('ciphertext too short');
    if (buf[0] !== VERSION) throw new FieldCipherError(`unknown ciphertext version ${buf[0]}`);
    const iv = buf.subarray(1, 1 + IV_BYTES);
    const tag = buf.subarray(buf.length - TAG_BYTES);
    const d = createDecipheriv('aes-256-gcm', this.#key, iv);
    d.setAAD(Buffer.from(context, 'utf8'));
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(buf.subarray(1 + IV_BYTES, buf.length - TAG_BYTES)), d.final()]);
    } catch {
      throw new FieldCipherError('value does not authenticate: tampered, or another key or context');
    }
  }

  decryptString(stored: Uint8Array, context = ''): string {
    return this.decrypt(stored, context).toString('utf8');
  }
}

/**
 * Reads `ENCRYPTION_KEY`: 32 bytes as 64 hex digits or as base64. Called once
 * at the composition root.
 */
export function parseEncryptionKey(value: string | undefined): Buffer {
  if (!value)
    throw new FieldCipherError(
      'ENCRYPTION_KEY is not set: 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)',
    );
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32)
    throw new FieldCipherError(`ENCRYPTION_KEY must be 32 bytes (64 hex digits or base64), got ${key.length} bytes`);
  return key;
}
