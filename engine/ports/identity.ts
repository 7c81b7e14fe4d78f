import type { Principal, Result } from '../../protocol/index.js';

/** Options of one verification. */
export interface VerifyOptions {
  /**
   * Ask the identity provider whether the token was revoked or the user
   * disabled (one user lookup). Admin tokens are always checked, whatever
   * this says. Without it, the server may answer from principals verified
   * earlier for the same token (docs/identity.md, "Caching"); with it, never.
   */
  readonly checkRevoked?: boolean;
}

/**
 * The authentication port: turns a bearer token into a {@link Principal} or a
 * coded rejection (`AUTH_*` in the error table). It never throws for a bad
 * token; an unreachable identity provider is `AUTH_UNAVAILABLE`, never a pass.
 */
export interface IdentityVerifier {
  verify(token: string, opts?: VerifyOptions): Promise<Result<Principal>>;
}
