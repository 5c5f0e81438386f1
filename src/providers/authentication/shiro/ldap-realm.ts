/**
 * @module providers/authentication/shiro/ldap-realm
 * Knox's `KnoxLdapRealm` (and Shiro's `JndiLdapRealm`): a user is authenticated by a simple bind to the
 * directory with their own DN and password.
 *
 * The DN comes from `userDnTemplate` (`uid={0},ou=people,dc=...`), or from a search as the system user when a
 * user search is configured (`userSearchBase` or `searchBase`, with `userSearchAttributeName` or
 * `userSearchFilter`); a search that finds no entry, or more than one, fails the login. The user name is escaped
 * for where it goes (RFC 4514 in a DN, RFC 4515 in a filter), so `*`, `)(` or `,ou=...` in a name cannot widen a
 * search or point the bind at another entry. An empty password is refused before LDAP sees it (a simple bind with
 * an empty password is an anonymous bind, which succeeds).
 *
 * With `authorizationEnabled`, the user's groups are the `groupIdAttribute` of the entries of `groupObjectClass`
 * under `groupSearchBase` (else `searchBase`) whose `memberAttribute` holds the user: their DN, or the value of
 * `memberAttributeValueTemplate`, or (for `posixGroup`) their name. The search runs as the system user when one
 * is configured, else on the user's own connection.
 */
import type { Client } from 'ldapts';
import type { Principal } from '../../../spi/index.ts';
import {
  attributeValues,
  bindAs,
  describeLdapError,
  escapeDnValue,
  escapeFilterValue,
  expandTemplate,
  isServerAnswer,
  type LdapEndpoint,
  LdapUnavailableError,
  release,
  SystemConnection,
  search,
} from '../../common/ldap.ts';
import { type Realm, RealmUnavailableError } from './realm.ts';

export interface LdapRealmConfig {
  readonly name: string;
  readonly cachingEnabled: boolean;
  readonly endpoint: LdapEndpoint;
  readonly system?: { dn: string; password: string };
  /** `uid={0},ou=people,...`; used when there is no {@link userSearch}. */
  readonly userDnTemplate?: string;
  readonly userSearch?: {
    /** DN template (`{0}` DN-escaped) of the search base. */
    readonly base: string;
    /** Filter template (`{0}` filter-escaped). */
    readonly filter: string;
    readonly scope: 'sub' | 'one' | 'base';
  };
  readonly groups?: {
    readonly base: string;
    readonly objectClass: string;
    readonly memberAttribute: string;
    /** `cn={0},ou=people,...` (`{0}` DN-escaped); undefined: the user's DN. */
    readonly memberValueTemplate?: string;
    readonly idAttribute: string;
  };
}

export class LdapRealm implements Realm {
  readonly name: string;
  readonly cachingEnabled: boolean;
  readonly hashesLocally = false;
  readonly #config: LdapRealmConfig;
  readonly #system?: SystemConnection;

  constructor(config: LdapRealmConfig) {
    this.#config = config;
    this.name = config.name;
    this.cachingEnabled = config.cachingEnabled;
    if (config.system || config.userSearch)
      this.#system = new SystemConnection(config.endpoint, config.system);
  }

  async authenticate(username: string, password: string): Promise<Principal | undefined> {
    if (username === '' || password === '') return undefined;
    try {
      const dn = await this.#userDn(username);
      if (dn === undefined) return undefined;
      let client: Client;
      try {
        client = await bindAs(this.#config.endpoint, dn, password);
      } catch (err) {
        if (isServerAnswer(err)) return undefined;
        throw err;
      }
      try {
        const groups = this.#config.groups ? await this.#groups(client, username, dn) : [];
        return { name: username, groups };
      } finally {
        release(client);
      }
    } catch (err) {
      if (err instanceof LdapUnavailableError) throw new RealmUnavailableError(err.message, { cause: err });
      throw err;
    }
  }

  /**
   * Binds as the configured system user (knoxcli's `system-user-auth-test`).
   * @throws RealmUnavailableError with the directory's reason, or when no system user is configured
   */
  async checkSystemUser(): Promise<void> {
    if (!this.#config.system || !this.#system) {
      throw new RealmUnavailableError('no system user is configured (contextFactory.systemUsername)');
    }
    try {
      await this.#system.run(async () => undefined);
    } catch (err) {
      throw new RealmUnavailableError((err as Error).message, { cause: err });
    }
  }

  async #userDn(username: string): Promise<string | undefined> {
    const { userSearch, userDnTemplate } = this.#config;
    if (!userSearch) return expandTemplate(userDnTemplate ?? '{0}', escapeDnValue(username));
    const base = expandTemplate(userSearch.base, escapeDnValue(username));
    const filter = expandTemplate(userSearch.filter, escapeFilterValue(username));
    const entries = await this.#asSystem((c) =>
      search(c, base, { scope: userSearch.scope, filter, attributes: ['1.1'], sizeLimit: 2 }),
    );
    return entries.length === 1 ? entries[0].dn : undefined;
  }

  async #groups(userClient: Client, username: string, dn: string): Promise<string[]> {
    const g = this.#config.groups!;
    const member =
      g.objectClass.toLowerCase() === 'posixgroup'
        ? username
        : g.memberValueTemplate
          ? expandTemplate(g.memberValueTemplate, escapeDnValue(username))
          : dn;
    const filter = `(&(objectClass=${escapeFilterValue(g.objectClass)})(${g.memberAttribute}=${escapeFilterValue(member)}))`;
    const run = (c: Client) => search(c, g.base, { scope: 'sub', filter, attributes: [g.idAttribute] });
    const entries = this.#config.system
      ? await this.#asSystem(run)
      : await this.#orUnavailable(run(userClient));
    const names = new Set<string>();
    for (const e of entries) {
      const name = attributeValues(e, g.idAttribute)[0];
      if (name) names.add(name);
    }
    return [...names].sort();
  }

  /** A search as the system user; any refusal there is a configuration problem, not the user's: 503. */
  #asSystem<T>(op: (c: Client) => Promise<T>): Promise<T> {
    return this.#orUnavailable(this.#system!.run(op));
  }

  async #orUnavailable<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (err instanceof LdapUnavailableError) throw err;
      throw new LdapUnavailableError(`LDAP lookup refused: ${describeLdapError(err)}`, { cause: err });
    }
  }

  close(): void {
    this.#system?.close();
  }
}
