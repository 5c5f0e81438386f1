/**
 * What the KnoxSSO tests (test/providers/federation/pac4j-*.test.ts) share: the application topology an SSO cookie
 * protects, and a gateway started on a home whose topologies must all deploy.
 */
import assert from 'node:assert/strict';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { topologyXml } from './home.ts';

/** A topology whose HTTP service `backendUrl` is protected by SSOCookieProvider, sending clients to `ssoUrl`. */
export function ssoProtectedTopology(ssoUrl: string, backendUrl: string): string {
  return topologyXml({
    providers: [
      {
        role: 'federation',
        name: 'SSOCookieProvider',
        params: { 'sso.authentication.provider.url': ssoUrl },
      },
      { role: 'identity-assertion', name: 'Default' },
    ],
    services: [{ role: 'HTTP', urls: [backendUrl] }],
  });
}

/** Starts a gateway on 127.0.0.1:port (no file watching, silent unless `log` is given); each named topology must deploy. */
export async function startDeployed(
  home: string,
  port: number,
  topologies: readonly string[],
  options: Pick<GatewayOptions, 'log' | 'audit'> = {},
): Promise<Gateway> {
  const gateway = await Gateway.start({
    home,
    port,
    host: '127.0.0.1',
    log: options.log ?? createLogger({ level: 'silent' }),
    ...(options.audit && { audit: options.audit }),
    watch: false,
  });
  for (const name of topologies) {
    const status = gateway.status.get(name);
    assert.equal(status?.deployed, true, `${name}: ${JSON.stringify(status?.diagnostics)}`);
  }
  return gateway;
}
