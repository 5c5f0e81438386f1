/**
 * @module dispatch/backend-tls
 * TLS towards backends (https and wss), as gateway-site describes it, for every dispatch alike:
 *
 * - **Trust**: `gateway.httpclient.truststore.path` (relative to the home) replaces the runtime's default CAs,
 *   as Knox's HTTP-client truststore replaces the JDK's. postern reads PEM files (one or more certificates);
 *   a PKCS#12 or JKS truststore is refused at deployment with the command that converts it. Without it, Node's
 *   bundled CAs (and `NODE_EXTRA_CA_CERTS`) apply.
 * - **Client certificate** (two-way TLS) when the service's dispatch says `use-two-way-ssl="true"` or the
 *   service has the param `useTwoWaySsl=true` (Knox's two spellings): the gateway presents its own identity —
 *   the same certificate it serves (`gateway.tls.certificate.path`/`.key.path`, the identity keystore, or the
 *   generated `data/security/gateway.crt`).
 *
 * Certificates are always verified; there is no switch that turns verification off.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { readIdentityKeystore } from '../config/keystore.ts';

export interface BackendTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  pfx?: Buffer;
  passphrase?: string;
}

function inHome(home: string, path: string): string {
  return isAbsolute(path) ? path : resolve(home, path);
}

/** The CAs backends must chain to, or undefined for the runtime's defaults. Throws with a usable message. */
export function backendTrust(settings: GatewaySettings, home: string): Buffer | undefined {
  const path = settings.httpclient.truststorePath;
  if (!path) return undefined;
  const file = inHome(home, path);
  if (!existsSync(file)) throw new Error(`gateway.httpclient.truststore.path: ${file} does not exist`);
  const data = readFileSync(file);
  if (!data.subarray(0, 64).toString('latin1').includes('-----BEGIN')) {
    throw new Error(
      `gateway.httpclient.truststore.path: ${file} is not a PEM file (type ${settings.httpclient.truststoreType}); ` +
        'postern reads PEM truststores. Convert it with: ' +
        'keytool -exportcert -rfc -keystore truststore.jks -alias <alias> -file truststore.pem ' +
        '(or: openssl pkcs12 -in truststore.p12 -nokeys -out truststore.pem)',
    );
  }
  return data;
}

/** The gateway's own identity, presented to backends that ask for a client certificate. */
export function gatewayIdentity(settings: GatewaySettings, home: string): BackendTlsOptions {
  const ssl = settings.ssl;
  if (ssl.certificatePath && ssl.keyPath) {
    return {
      cert: readFileSync(inHome(home, ssl.certificatePath)),
      key: readFileSync(inHome(home, ssl.keyPath)),
    };
  }
  const fromKeystore = readIdentityKeystore(settings, home);
  if (fromKeystore) {
    return 'pfx' in fromKeystore
      ? { pfx: fromKeystore.pfx, passphrase: fromKeystore.passphrase }
      : { cert: fromKeystore.cert, key: fromKeystore.key };
  }
  const cert = join(home, 'data', 'security', 'gateway.crt');
  const key = join(home, 'data', 'security', 'gateway.key');
  if (!existsSync(cert) || !existsSync(key)) {
    throw new Error(
      'use-two-way-ssl: the gateway has no identity to present (set gateway.tls.certificate.path and ' +
        'gateway.tls.key.path, or a PKCS12 gateway.tls.keystore.path)',
    );
  }
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

/** Everything a backend connection of one service needs: trust, and the identity when two-way TLS is asked. */
export function backendTlsOptions(
  settings: GatewaySettings,
  home: string,
  twoWay: boolean,
): BackendTlsOptions | undefined {
  const ca = backendTrust(settings, home);
  const identity = twoWay ? gatewayIdentity(settings, home) : undefined;
  if (!ca && !identity) return undefined;
  return { ...(ca ? { ca } : {}), ...identity };
}
