/**
 * @module providers/authentication/shiro/realm
 * What a realm is to the ShiroProvider: something that checks a user name and password and says who the user is
 * and which groups they are in. A realm answers "no" by resolving to undefined and "cannot tell now" (its
 * directory is down or slow) by throwing {@link RealmUnavailableError}; the provider turns those into 401 and 503.
 */
import type { Principal } from '../../../spi/index.ts';

export interface Realm {
  /** The realm's object name in the Shiro config (`ldapRealm`). */
  readonly name: string;
  /** Whether successful logins may be cached (`authenticationCachingEnabled`). */
  readonly cachingEnabled: boolean;
  /**
   * Whether a check computes a password hash in the gateway (the file realm's scrypt): such checks are bounded per
   * client address and second (`postern.auth.verify.rate.per.address`). An LDAP bind costs the directory instead.
   */
  readonly hashesLocally: boolean;
  authenticate(username: string, password: string): Promise<Principal | undefined>;
  /**
   * For a realm whose users can change while it serves (the file realm's reloads): called with the names whose
   * entry changed, so cached logins and sessions of those users are forgotten.
   */
  onChange?(listener: (changed: ReadonlySet<string>) => void): void;
  /** Binds as the realm's system user, for an LDAP realm that has one (knoxcli's `system-user-auth-test`). */
  checkSystemUser?(): Promise<void>;
  close(): void;
}

export class RealmUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RealmUnavailableError';
  }
}
