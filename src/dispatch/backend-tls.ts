/**
 * @module dispatch/backend-tls
 * TLS towards backends (https and wss), as gateway-site describes it, for every dispatch alike:
 *
 * - **Trust**: `gateway.httpclient.truststore.path` (relative to the home) replaces the runtime's default CAs,
 *   as Knox's HTTP-client truststore replaces the JDK's: a PEM file (one or more certificates), or a JKS or
 *   PKCS#12 store whose password is the gateway alias `gateway.httpclient.truststore.password.alias` names
 *   (config/keystore.ts `readTrustStore`). Without it, Node's bundled CAs (and `NODE_EXTRA_CA_CERTS`) apply.
 * - **Client certificate** (two-way TLS) when the service's dispatch says `use-two-way-ssl="true"` or the
 *   service has the param `useTwoWaySsl=true` (Knox's two spellings): the gateway presents its own identity —
 *   the same certificate it serves (`gateway.tls.certificate.path`/`.key.path`, the identity keystore, or the
 *   generated `data/security/gateway.crt`).
 *
 * - **Ciphers**: Node's default suites, AES-128-GCM offered first (config/tls-policy's PREFERRED_CIPHERS).
 *
 * Certificates are always verified; there is no switch that turns verification off.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { readIdentityKeystore, readTrustStore } from '../config/keystore.ts';
import { PREFERRED_CIPHERS } from '../config/tls-policy.ts';

export interface BackendTlsOptions {
  /** The order of the suites offered ({@link PREFERRED_CIPHERS}: AES-128-GCM first). */
  ciphers?: string;
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
  const {
    truststorePath: path,
    truststoreType: type,
    truststorePasswordAlias: passwordAlias,
  } = settings.httpclient;
  if (!path) return undefined;
  return readTrustStore({ key: 'gateway.httpclient.truststore.path', path, type, passwordAlias }, home);
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

/**
 * Everything a backend connection of one service needs: the cipher order, trust, and the identity when two-way
 * TLS is asked.
 */
export function backendTlsOptions(
  settings: GatewaySettings,
  home: string,
  twoWay: boolean,
): BackendTlsOptions {
  const ca = backendTrust(settings, home);
  const identity = twoWay ? gatewayIdentity(settings, home) : undefined;
  return { ciphers: PREFERRED_CIPHERS, ...(ca ? { ca } : {}), ...identity };
}
