/**
 * What the KNOXTOKEN lifecycle tests share: a home with Knox's curl-flow topologies and a client for Knox's
 * documented calls.
 *
 * - `sandbox`: ShiroProvider against the test's slapd (Knox's demo LDAP users, test/helpers/slapd.ts), Default
 *   identity assertion, and KNOXTOKEN with server-managed state, renewer `admin`;
 * - `api`: JWTProvider with server-managed state in front of an echo backend (HTTP).
 *
 * Several homes can form a cluster: {@link shareIdentity} gives a second home the first one's master secret and
 * token signing key, as an operator copies them to every node.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { CredentialStore, GATEWAY_CLUSTER } from '../../../src/config/aliases.ts';
import { loadOrCreateMasterSecret } from '../../../src/deploy/secrets.ts';
import { tokenKeyStore } from '../../../src/services/knoxtoken/keys.ts';
import { type TestHome, topologyXml } from '../../helpers/home.ts';
import { PEOPLE_DN, type SlapdFixture } from '../../helpers/slapd.ts';

export function writeTopologies(
  home: TestHome,
  ldap: SlapdFixture,
  backendUrl: string,
  tokenParams: Record<string, string> = {},
): void {
  home.write(
    'conf/topologies/sandbox.xml',
    topologyXml({
      providers: [
        {
          role: 'authentication',
          name: 'ShiroProvider',
          params: {
            'main.ldapRealm': 'org.apache.knox.gateway.shirorealm.KnoxLdapRealm',
            'main.ldapContextFactory': 'org.apache.knox.gateway.shirorealm.KnoxLdapContextFactory',
            'main.ldapRealm.contextFactory': '$ldapContextFactory',
            'main.ldapRealm.userDnTemplate': `uid={0},${PEOPLE_DN}`,
            'main.ldapRealm.contextFactory.url': ldap.url,
            'main.ldapRealm.contextFactory.authenticationMechanism': 'simple',
            'urls./**': 'authcBasic',
          },
        },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [
        {
          role: 'KNOXTOKEN',
          urls: [],
          params: {
            'knox.token.ttl': '600000',
            'knox.token.exp.server-managed': 'true',
            'knox.token.renewer.whitelist': 'admin',
            ...tokenParams,
          },
        },
      ],
    }),
  );
  home.write(
    'conf/topologies/api.xml',
    topologyXml({
      providers: [
        { role: 'federation', name: 'JWTProvider', params: { 'knox.token.exp.server-managed': 'true' } },
        { role: 'identity-assertion', name: 'Default' },
      ],
      services: [{ role: 'HTTP', urls: [backendUrl] }],
    }),
  );
}

/** Gives `to` the master secret and the token signing key of `from` (made when missing). */
export async function shareIdentity(from: TestHome, to: TestHome): Promise<void> {
  const secret = join(from.dir, 'data', 'security', 'master.secret');
  loadOrCreateMasterSecret(secret);
  await tokenKeyStore(from.dir).getOrCreate();
  mkdirSync(join(to.dir, 'data', 'security'), { recursive: true, mode: 0o700 });
  for (const f of ['master.secret', 'token-signing-key.pem']) {
    copyFileSync(join(from.dir, 'data', 'security', f), join(to.dir, 'data', 'security', f));
  }
}

/** Stores a gateway alias in a home (as `postern cli create-alias` does). */
export function createAlias(home: TestHome, alias: string, value: string): void {
  const master = loadOrCreateMasterSecret(join(home.dir, 'data', 'security', 'master.secret'));
  new CredentialStore(home.dir, master, GATEWAY_CLUSTER).set(alias, value);
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export const PASSWORDS: Record<string, string> = {
  sam: 'sam-password',
  admin: 'admin-password',
  guest: 'guest-password',
};

export interface TokenAnswer {
  access_token: string;
  token_id: string;
  token_type: string;
  expires_in: number;
  managed: string;
  passcode?: string;
}

/** Knox's curl calls against one gateway (`base` = `http://host:port/gateway`). */
export function client(base: () => string) {
  const tokenUrl = (path = '', version = 'v1') => `${base()}/sandbox/knoxtoken/api/${version}/token${path}`;
  const as = (user: string) => ({ authorization: basic(user, PASSWORDS[user]) });
  const json = async (res: Awaited<ReturnType<typeof request>>) => {
    const text = await res.body.text();
    return { status: res.statusCode, body: text === '' ? undefined : JSON.parse(text), text };
  };
  return {
    tokenUrl,
    async getToken(user: string, query = ''): Promise<TokenAnswer> {
      const res = await request(`${tokenUrl()}${query}`, { headers: as(user) });
      const answer = await json(res);
      assert.equal(answer.status, 200, answer.text);
      return answer.body as TokenAnswer;
    },
    /** GET {gateway}/api/http/… with the token as a Bearer (or any Authorization given). */
    async api(authorization: string): Promise<number> {
      const res = await request(`${base()}/api/http/resource`, { headers: { authorization } });
      await res.body.dump();
      return res.statusCode;
    },
    async op(
      user: string,
      method: 'GET' | 'POST' | 'PUT' | 'DELETE',
      path: string,
      body?: string,
      version = 'v1',
    ) {
      return json(
        await request(tokenUrl(path, version), {
          method,
          headers: { ...as(user), 'content-type': 'text/plain' },
          ...(body !== undefined ? { body } : {}),
        }),
      );
    },
  };
}

export const bearer = (token: string) => `Bearer ${token}`;
export const passcodeBasic = (passcode: string) =>
  `Basic ${Buffer.from(`Passcode:${passcode}`).toString('base64')}`;

/** Polls `fn` until it returns `want` or `ms` pass; resolves with the elapsed time, or throws. */
export async function until<T>(fn: () => Promise<T>, want: T, ms: number): Promise<number> {
  const started = Date.now();
  let last: T | undefined;
  while (Date.now() - started <= ms) {
    last = await fn();
    if (last === want) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`still ${String(last)} after ${ms} ms (wanted ${String(want)})`);
}

/** The gateway log's lines with this message. */
export function logLines(home: TestHome, message: string): string[] {
  let text = '';
  try {
    text = readFileSync(join(home.dir, 'logs', 'gateway.log'), 'utf8');
  } catch {}
  return text.split('\n').filter((l) => l.includes(message));
}
