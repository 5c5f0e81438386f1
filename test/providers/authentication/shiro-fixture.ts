/**
 * Helpers for the ShiroProvider tests: Knox-style ShiroProvider params for the slapd fixture's directory, a
 * topology file from them (values XML-escaped, since LDAP filters hold `&`), and Basic credentials.
 */
import { BASE_DN, GROUPS_DN, PEOPLE_DN, type SlapdFixture } from '../../helpers/slapd.ts';

export const KNOX_LDAP_REALM = 'org.apache.knox.gateway.shirorealm.KnoxLdapRealm';
export const CHALLENGE = 'BASIC realm="application"';

/** `Authorization: Basic` for the user and password. */
export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** The userDnTemplate configuration of Knox's sandbox topology, pointed at the fixture. */
export function dnTemplateParams(
  ldap: SlapdFixture,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    'main.ldapRealm': KNOX_LDAP_REALM,
    'main.ldapContextFactory': 'org.apache.knox.gateway.shirorealm.KnoxLdapContextFactory',
    'main.ldapRealm.contextFactory': '$ldapContextFactory',
    'main.ldapRealm.userDnTemplate': `uid={0},${PEOPLE_DN}`,
    'main.ldapRealm.contextFactory.url': ldap.url,
    'main.ldapRealm.contextFactory.authenticationMechanism': 'simple',
    'urls./**': 'authcBasic',
    ...extra,
  };
}

/** A search-based configuration: the system user finds the user's DN anywhere under the base. */
export function searchParams(ldap: SlapdFixture, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'main.ldapRealm': KNOX_LDAP_REALM,
    'main.ldapRealm.contextFactory.url': ldap.url,
    'main.ldapRealm.contextFactory.systemUsername': `uid=guest,${PEOPLE_DN}`,
    'main.ldapRealm.contextFactory.systemPassword': 'guest-password',
    'main.ldapRealm.searchBase': BASE_DN,
    'main.ldapRealm.userSearchAttributeName': 'uid',
    'main.ldapRealm.userObjectClass': 'inetOrgPerson',
    'main.ldapRealm.authorizationEnabled': 'true',
    'main.ldapRealm.groupSearchBase': GROUPS_DN,
    'urls./**': 'authcBasic',
    ...extra,
  };
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A topology with ShiroProvider (params as given), Default identity assertion and an HTTP service. */
export function shiroTopology(
  params: Record<string, string>,
  backendUrl: string,
  more: { role: string; name: string; params?: Record<string, string> }[] = [
    { role: 'identity-assertion', name: 'Default' },
  ],
): string {
  const providers = [{ role: 'authentication', name: 'ShiroProvider', params }, ...more]
    .map(
      (p) => `    <provider>
      <role>${p.role}</role>
      <name>${p.name}</name>
      <enabled>true</enabled>
${Object.entries(p.params ?? {})
  .map(([n, v]) => `      <param><name>${xml(n)}</name><value>${xml(v)}</value></param>`)
  .join('\n')}
    </provider>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
${providers}
  </gateway>
  <service>
    <role>HTTP</role>
    <url>${backendUrl}</url>
  </service>
</topology>
`;
}

/** The `name=value` of a Set-Cookie for `name`, or undefined. */
export function setCookie(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const raw = headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.find((c) => c.startsWith(`${name}=`));
}
