/**
 * @module gateway/tls
 * The server's TLS identity, as gateway-site describes it: PEM certificate and key paths
 * (`gateway.tls.certificate.path`, `gateway.tls.key.path`), or a PKCS#12 keystore under Knox's names
 * (`gateway.tls.keystore.path`, `.type`). Without either, a self-signed certificate for localhost is generated
 * on first start into `data/security/` of the home, so a new installation answers on https at once.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { generate } from 'selfsigned';
import type { GatewaySettings } from '../config/gateway-site.ts';

export interface ServerTls extends SecureContextOptions {
  /** Where the certificate came from, for the start-up log. */
  source: string;
}

function inHome(home: string, path: string): string {
  return isAbsolute(path) ? path : resolve(home, path);
}

/** Generates a self-signed certificate for localhost / 127.0.0.1 / ::1, valid for one year. */
export async function generateSelfSigned(certFile: string, keyFile: string): Promise<void> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 365 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      // clientAuth too: the gateway presents the same certificate to backends that ask for one (use-two-way-ssl).
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(dirname(certFile), { recursive: true });
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
}

export async function loadServerTls(settings: GatewaySettings, home: string): Promise<ServerTls> {
  const ssl = settings.ssl;
  const protocols = { minVersion: 'TLSv1.2' as const };
  if (ssl.certificatePath || ssl.keyPath) {
    if (!ssl.certificatePath || !ssl.keyPath) {
      throw new Error('gateway.tls.certificate.path and gateway.tls.key.path must be set together');
    }
    const certFile = inHome(home, ssl.certificatePath);
    const keyFile = inHome(home, ssl.keyPath);
    if (!existsSync(certFile) && !existsSync(keyFile)) {
      await generateSelfSigned(certFile, keyFile);
      return {
        cert: readFileSync(certFile),
        key: readFileSync(keyFile),
        ...protocols,
        source: `generated ${certFile}`,
      };
    }
    return { cert: readFileSync(certFile), key: readFileSync(keyFile), ...protocols, source: certFile };
  }
  if (ssl.keystorePath && existsSync(inHome(home, ssl.keystorePath))) {
    const type = (ssl.keystoreType ?? 'JKS').toUpperCase();
    if (type !== 'PKCS12' && type !== 'P12') {
      throw new Error(
        `keystore ${ssl.keystorePath} has type ${type}; postern reads PKCS12 keystores or PEM files. ` +
          'Convert it with: keytool -importkeystore -srckeystore gateway.jks -destkeystore gateway.p12 -deststoretype PKCS12',
      );
    }
    const passphrase = process.env.POSTERN_KEYSTORE_PASSWORD;
    return {
      pfx: readFileSync(inHome(home, ssl.keystorePath)),
      passphrase,
      ...protocols,
      source: ssl.keystorePath,
    };
  }
  const certFile = join(home, 'data', 'security', 'gateway.crt');
  const keyFile = join(home, 'data', 'security', 'gateway.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) await generateSelfSigned(certFile, keyFile);
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), ...protocols, source: certFile };
}
