/**
 * @module test/helpers/oidc-op
 * A real, certified OpenID Provider for tests: `oidc-provider` (panva) on a loopback port, run in a worker
 * thread so that each provider has its own clock (`clockSkewMs` models a provider whose clock is wrong: its ID
 * tokens are then expired when they arrive). It serves discovery, the authorization endpoint with
 * oidc-provider's development login page (any password; the login must be one of `users`), the token, UserInfo
 * and JWKS endpoints. Consent is granted beforehand for the test clients' scopes, so a login is one form.
 */
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface OpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post';
}

export interface OpOptions {
  clients: OpClient[];
  /** Login → extra claims (email, name, groups …); `sub` is the login. */
  users: Record<string, Record<string, unknown>>;
  /** Added to the provider's clock (negative: the provider lives in the past). */
  clockSkewMs?: number;
  /** ID token lifetime in seconds (default 300). */
  idTokenTtl?: number;
}

export interface OpFixture {
  issuer: string;
  discoveryUri: string;
  port: number;
  close(): Promise<void>;
}

interface WorkerInput extends OpOptions {
  kind: 'postern-test-oidc-op';
}

/** Starts a provider in a worker thread; resolves once it listens. */
export async function startOp(options: OpOptions): Promise<OpFixture> {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { ...options, kind: 'postern-test-oidc-op' } satisfies WorkerInput,
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the OpenID Provider worker exited (${code})`)));
  });
  worker.unref();
  const issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    discoveryUri: `${issuer}/.well-known/openid-configuration`,
    port,
    close: async () => {
      await worker.terminate();
    },
  };
}

async function runProvider(input: WorkerInput): Promise<void> {
  if (input.clockSkewMs) {
    const realNow = Date.now;
    const skew = input.clockSkewMs;
    Date.now = () => realNow() + skew;
  }
  const http = await import('node:http');
  const { generateKeyPair, exportJWK } = await import('jose');
  const { default: Provider } = await import('oidc-provider');
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-op-key', alg: 'RS256', use: 'sig' };
  const scopes = 'openid profile email';
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: input.clients.map((c) => ({
      ...c,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: ['postern-test-op-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 300,
      AuthorizationCode: 60,
      IdToken: input.idTokenTtl ?? 300,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    findAccount: (_ctx, id) => {
      const claims = input.users[id];
      if (!claims) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
    async loadExistingGrant(ctx) {
      const accountId = ctx.oidc.session?.accountId;
      const clientId = ctx.oidc.client?.clientId;
      if (!accountId || !clientId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
      grant.addOIDCScope(scopes);
      await grant.save();
      return grant;
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>OP error</title><pre id="op-error">${String(out.error)}: ${String(out.error_description ?? '')}</pre>`;
    },
  });
  server.on('request', provider.callback());
  parentPort?.postMessage({ port });
}

if (!isMainThread && (workerData as WorkerInput | undefined)?.kind === 'postern-test-oidc-op') {
  await runProvider(workerData as WorkerInput);
}
