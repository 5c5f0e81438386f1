/**
 * A token issuer for tests: signing keys made with jose, a real JWKS server on loopback whose key set the test
 * can change (key rotation) or break (status 500), and a token signer with full control of header and claims.
 */
import type { KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** A WebCrypto key as jose makes it. */
type JoseKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: JoseKey;
  publicKey: JoseKey;
  /** The public JWK with kid, alg and use. */
  jwk: JWK;
  /** The public key as SPKI PEM. */
  spki: string;
}

export async function makeKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk, spki: await exportSPKI(publicKey) };
}

export interface JwksServer {
  url: string;
  /** Replaces the published key set (rotation). */
  setKeys(keys: readonly TestKey[]): void;
  /** Answers every request with this status instead of the key set (0: serve normally). */
  failWith(status: number): void;
  /** JWKS requests served so far. */
  readonly fetches: number;
  close(): Promise<void>;
}

export async function startJwks(keys: readonly TestKey[]): Promise<JwksServer> {
  let body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
  let failure = 0;
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches++;
    if (failure) {
      res.writeHead(failure, { 'content-type': 'text/plain' }).end('broken');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    setKeys(next) {
      body = JSON.stringify({ keys: next.map((k) => k.jwk) });
    },
    failWith(status) {
      failure = status;
    },
    get fetches() {
      return fetches;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface SignOptions {
  /** Claims; `iat` is added. Seconds for exp/nbf, as in the JWT. */
  claims: JWTPayload;
  /** Header fields over `{alg: key.alg, kid: key.kid, typ: 'JWT'}`; `undefined` values remove a field. */
  header?: Record<string, unknown>;
}

export async function signToken(
  key: TestKey | { privateKey: JoseKey | KeyObject; kid?: string; alg: string },
  options: SignOptions,
): Promise<string> {
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'JWT', ...options.header };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return new SignJWT({ iat: Math.floor(Date.now() / 1000), ...options.claims })
    .setProtectedHeader(header as { alg: string })
    .sign(key.privateKey);
}

/** Seconds since the epoch, offset by `delta` seconds. */
export function epoch(delta = 0): number {
  return Math.floor(Date.now() / 1000) + delta;
}

/** An unsecured token (`alg: none`, empty signature), as an attacker would send it. */
export function unsecuredToken(claims: JWTPayload): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
}

/** The token with its payload replaced (signature kept): a tampered token. */
export function tamper(token: string, claims: JWTPayload): string {
  const [h, , s] = token.split('.');
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}

/**
 * A test-only authentication provider, loaded as an outside plugin (gateway-site `postern.plugins`): the user is
 * the value of the `X-Test-User` header, and a request without it gets 401. It stands in for ShiroProvider in
 * front of KNOXSSO and KNOXTOKEN.
 */
export const TEST_USER_PLUGIN = `
export function register(registry) {
  registry.provider({
    role: 'authentication',
    name: 'TestHeaderUser',
    create() {
      return (ex, next) => {
        const name = ex.req.headers['x-test-user'];
        if (typeof name !== 'string' || name === '') {
          ex.res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-length': '0' });
          ex.res.end();
          return Promise.resolve();
        }
        ex.user = { name, groups: [] };
        ex.authMethod = 'basic';
        return next();
      };
    },
  });
}
`;
