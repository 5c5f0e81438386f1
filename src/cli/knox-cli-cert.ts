/**
 * @module cli/knox-cli-cert
 * knoxcli's certificate commands for the gateway's own identity (data/security/gateway.crt and gateway.key, what
 * `start` generates when no certificate or keystore is configured):
 *
 *   create-cert [--hostname H] [--force]   a new self-signed identity for H (default: this machine's name)
 *   export-cert [--type PEM|JKS|PKCS12]    the certificate, for clients to trust, as
 *                                          data/security/keystores/gateway-client-trust.<pem|jks|pkcs12>
 *                                          (JKS and PKCS12 with Knox's password `changeit`)
 *
 * A configured identity (gateway.tls.certificate.path, or a keystore) is the operator's: create-cert refuses to
 * touch one, and export-cert exports the certificate `start` would serve. PKCS#12 is written (and a PKCS#12
 * keystore read) by Debian's `openssl`; a JKS truststore is written here (its format is small and fixed). JCEKS and
 * BCFKS are not written: `keytool -importcert` turns the PEM into one (the error says how).
 */

import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { keystoresDir } from '../config/aliases.ts';
import { readIdentityKeystore } from '../config/keystore.ts';
import { loadHome } from '../gateway/gateway.ts';
import { generateSelfSigned } from '../gateway/tls.ts';
import { CliError, type Io } from './knox-cli-io.ts';

/** Knox's password for the exported truststores (KnoxCLI's export-cert: "The password … is `changeit`"). */
const TRUST_PASSWORD = 'changeit';

/** Java's "modified UTF-8" string as DataOutputStream.writeUTF writes it (aliases here are ASCII). */
function javaUtf(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * A JKS truststore with one trusted-certificate entry, in the format Sun's JavaKeyStore writes: magic 0xFEEDFEED,
 * version 2, the entry (tag 2, alias, timestamp, "X.509", the DER), then the SHA-1 integrity digest over the
 * password's UTF-16BE bytes, "Mighty Aphrodite" and everything before it.
 */
function jksTrustStore(alias: string, der: Buffer, password: string): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(Date.now()));
  const body = Buffer.concat([
    u32(0xfeedfeed),
    u32(2),
    u32(1),
    u32(2),
    javaUtf(alias),
    timestamp,
    javaUtf('X.509'),
    u32(der.length),
    der,
  ]);
  const passwordBytes = Buffer.from(password, 'utf16le').swap16();
  const digest = createHash('sha1')
    .update(passwordBytes)
    .update(Buffer.from('Mighty Aphrodite', 'utf8'))
    .update(body)
    .digest();
  return Buffer.concat([body, digest]);
}

/** Runs Debian's `openssl` (PKCS#12 is its job here); its output, or a one-line reason. */
function openssl(args: string[], input: string | Buffer, env: Record<string, string> = {}): string {
  const r = spawnSync('openssl', args, { input, env: { ...process.env, ...env }, encoding: 'latin1' });
  if (r.error)
    throw new CliError(`openssl is needed for PKCS#12 (Debian package openssl): ${r.error.message}`);
  if (r.status !== 0) throw new CliError(`openssl ${args[0]} failed: ${r.stderr.trim().split('\n')[0]}`);
  return r.stdout;
}

function ownIdentity(home: string): { cert: string; key: string } {
  return {
    cert: join(home, 'data', 'security', 'gateway.crt'),
    key: join(home, 'data', 'security', 'gateway.key'),
  };
}

export async function createCert(
  home: string,
  options: { hostname?: string; force?: boolean },
  io: Io,
): Promise<number> {
  const { layout, settings } = await loadHome(home);
  if (settings.ssl.certificatePath || settings.ssl.keyPath || readIdentityKeystore(settings, layout.home)) {
    throw new CliError(
      'the gateway identity is configured (a certificate path or a keystore): replace it there',
    );
  }
  const own = ownIdentity(layout.home);
  if (existsSync(own.cert) && !options.force) {
    throw new CliError(`${own.cert} exists; give --force to replace it`);
  }
  const name = options.hostname ?? hostname();
  await generateSelfSigned(own.cert, own.key, name);
  io.stdout.write(`Certificate gateway-identity has been successfully created for ${name}.\n`);
  return 0;
}

/** The certificate `start` serves: the configured PEM, the keystore's, or the generated one. */
function servedCertificate(home: string, settings: Awaited<ReturnType<typeof loadHome>>['settings']): string {
  if (settings.ssl.certificatePath) return readFileSync(join(home, settings.ssl.certificatePath), 'utf8');
  const fromKeystore = readIdentityKeystore(settings, home);
  if (fromKeystore && 'cert' in fromKeystore) return fromKeystore.cert.toString();
  if (fromKeystore) {
    const out = openssl(['pkcs12', '-nokeys', '-clcerts', '-passin', 'env:POSTERN_PASS'], fromKeystore.pfx, {
      POSTERN_PASS: fromKeystore.passphrase ?? '',
    });
    const begin = out.indexOf('-----BEGIN CERTIFICATE-----');
    if (begin < 0) throw new CliError(`${fromKeystore.source} holds no certificate`);
    return out.slice(begin);
  }
  const own = ownIdentity(home);
  if (!existsSync(own.cert))
    throw new CliError('the gateway has no certificate yet: run create-cert, or start it once');
  return readFileSync(own.cert, 'utf8');
}

export async function exportCert(home: string, type: string | undefined, io: Io): Promise<number> {
  const { layout, settings } = await loadHome(home);
  const kind = (type ?? 'PEM').toUpperCase();
  const pem = servedCertificate(layout.home, settings);
  const dir = keystoresDir(layout.home);
  mkdirSync(dir, { recursive: true });
  let file: string;
  if (kind === 'PEM') {
    file = join(dir, 'gateway-client-trust.pem');
    writeFileSync(file, pem, { mode: 0o644 });
  } else if (kind === 'PKCS12') {
    file = join(dir, 'gateway-client-trust.pkcs12');
    // A truststore: the certificate alone, no key, Knox's password `changeit` (`keytool -storepasswd` changes it).
    openssl(
      [
        'pkcs12',
        '-export',
        '-nokeys',
        '-name',
        'gateway-identity',
        '-out',
        file,
        '-passout',
        `pass:${TRUST_PASSWORD}`,
      ],
      pem,
    );
  } else if (kind === 'JKS') {
    file = join(dir, 'gateway-client-trust.jks');
    writeFileSync(file, jksTrustStore('gateway-identity', new X509Certificate(pem).raw, TRUST_PASSWORD), {
      mode: 0o644,
    });
  } else if (kind === 'JCEKS' || kind === 'BCFKS') {
    throw new CliError(
      `postern does not write ${kind}; export PEM and run: keytool -importcert -noprompt -alias gateway-identity -file ${join(dir, 'gateway-client-trust.pem')} -keystore gateway-client-trust.${kind.toLowerCase()} -storetype ${kind}`,
    );
  } else {
    throw new CliError(`unknown --type ${type} (PEM, JKS or PKCS12)`);
  }
  io.stdout.write(`Certificate gateway-identity has been successfully exported to: ${file}\n`);
  return 0;
}
