/**
 * @module gateway/tls
 * The server's TLS identity, as gateway-site describes it: PEM certificate and key paths
 * (`gateway.tls.certificate.path`, `gateway.tls.key.path`), or Knox's identity keystore (JKS or PKCS#12,
 * `gateway.tls.keystore.*`, `gateway.tls.key.alias`, Knox's default `data/security/keystores/gateway.jks`;
 * config/keystore.ts). Without either, a self-signed certificate for localhost is generated on first start into
 * `data/security/` of the home, so a new installation answers on https at once. The protocol and cipher lists
 * follow `ssl.include/exclude.protocols/ciphers` (config/tls-policy.ts).
 *
 * **Two-way TLS** (client certificates), under Knox's names: `gateway.client.auth.needed` (a client must present a
 * certificate the truststore accepts) or `gateway.client.auth.wanted` (asked for, not required), trust from
 * `gateway.truststore.path` (PEM: one or more CA or peer certificates; `.type` and `.password.alias` are read
 * but a JKS or PKCS#12 truststore is refused with the command that converts it, as Node's TLS cannot take
 * trust from either). Without a truststore path, as in Knox, the gateway's own identity is the trust: its PEM
 * certificate (a self-signed installation trusts exactly itself). `gateway.client.auth.exclude` names topologies
 * that clients without a certificate may still reach.
 *
 * How the exemption works, and why: the topology is only known once the HTTP request is read, long after the
 * handshake, and Node offers no per-name client-auth switch (SNI chooses a secure context, not the verify mode;
 * Knox itself serves exempt topologies on their own port-mapped connector). So:
 * - `needed` with no exemption (the federation case): OpenSSL refuses the handshake of a client without an
 *   acceptable certificate (`requestCert` + `rejectUnauthorized`) — no HTTP byte is ever read from it.
 * - `needed` with exemptions, and `wanted`: the handshake asks for a certificate without requiring one. A client
 *   that presents a certificate the truststore does not accept is cut as soon as the handshake ends, before any
 *   request is read (as JSSE fails such a handshake in `want` mode); a client that presents none reaches only
 *   the exempt topologies (`needed`) and gets 403 `POSTERN_ERR_CLIENT_CERT_REQUIRED` anywhere else.
 * Either way, a request's `socket.authorized` is true only for a certificate the truststore accepts, which is
 * what HeaderPreAuth's `preauth.client.cert.validation` checks.
 */
import { constants, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { readIdentityKeystore, readTrustStore } from '../config/keystore.ts';
import { PREFERRED_CIPHERS, tlsPolicy } from '../config/tls-policy.ts';
import { Errors, type GatewayError } from '../errors.ts';

/** Client-certificate policy of the listener (absent: no certificate is asked for). */
export interface ClientAuthPolicy {
  mode: 'needed' | 'wanted';
  /** Topologies a client without a certificate may reach when `needed`. */
  exempt: ReadonlySet<string>;
  /** OpenSSL refuses the handshake itself (`needed` without exemptions). */
  atHandshake: boolean;
}

export interface ServerTls extends SecureContextOptions {
  /** Where the certificate came from, for the start-up log. */
  source: string;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  clientAuth?: ClientAuthPolicy;
}

/** What the listener does with client certificates beyond the handshake (see the module comment). */
export interface ClientCertGate {
  /** On each handshake: cuts a connection whose certificate the truststore does not accept. */
  onSecureConnection(socket: TLSSocket): void;
  /** Per request: the refusal for a connection without an accepted certificate, or undefined. */
  refusal(socket: unknown, topology: string): GatewayError | undefined;
}

export function clientCertGate(policy: ClientAuthPolicy): ClientCertGate {
  const refused = () => Errors.clientCertRequired();
  return {
    onSecureConnection(socket) {
      if (socket.authorized) return;
      const peer = socket.getPeerCertificate();
      if (peer && Object.keys(peer).length > 0) socket.destroy();
    },
    refusal(socket, topology) {
      if (policy.mode !== 'needed' || policy.atHandshake) return undefined;
      if ((socket as Partial<TLSSocket>).authorized === true) return undefined;
      return policy.exempt.has(topology) ? undefined : refused();
    },
  };
}

function inHome(home: string, path: string): string {
  return isAbsolute(path) ? path : resolve(home, path);
}

/**
 * Generates a self-signed certificate for `host` (default localhost) and localhost / 127.0.0.1 / ::1, valid for
 * one year (knoxcli's `create-cert --hostname` names another host).
 */
export async function generateSelfSigned(
  certFile: string,
  keyFile: string,
  host = 'localhost',
): Promise<void> {
  const now = new Date();
  const names = [...new Set([host, 'localhost'])].map((value) => ({ type: 2 as const, value }));
  // Loaded only when a certificate is made (the first start of a home).
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: host }], {
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
        altNames: [...names, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }],
      },
    ],
  });
  mkdirSync(dirname(certFile), { recursive: true });
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
}

export async function loadServerTls(settings: GatewaySettings, home: string): Promise<ServerTls> {
  const identity = await loadIdentity(settings, home);
  const options: ServerTls = {
    ...identity,
    ...protocolOptions(settings),
    ...clientAuthOptions(settings, home, identity),
    ...renegotiationOptions(settings),
  };
  return { ...options, sessionIdContext: sessionIdContext(options) };
}

/**
 * The TLS session id context: OpenSSL resumes a session (a TLS 1.3 PSK, a TLS 1.2 ticket or id) only in the
 * context it was made in. Node's default is a hash of the process's command line, so two nodes started with a
 * different `--home` (or a different path to `node`) never resumed each other's sessions, whatever key sealed
 * their tickets. It is made here of what a resumed session depends on, the same on every node serving the same
 * identity with the same client-certificate trust: the certificate (or keystore), the trust and whether a client
 * certificate is asked for or required. A session made where no client certificate was asked for is therefore
 * never resumed where one is required.
 */
export function sessionIdContext(options: ServerTls): string {
  const hash = createHash('sha256').update('postern tls session context 1\0');
  for (const part of [options.cert, options.pfx, options.ca]) {
    for (const item of Array.isArray(part) ? part : [part]) {
      if (item === undefined) continue;
      const bytes =
        typeof item === 'string' || Buffer.isBuffer(item)
          ? item
          : 'buf' in item
            ? item.buf
            : (item as { pem: string | Buffer }).pem;
      hash.update(createHash('sha256').update(bytes).digest());
    }
    hash.update('\0');
  }
  hash.update(`${options.requestCert === true}:${options.rejectUnauthorized === true}`);
  // OpenSSL takes at most 32 bytes (SSL_MAX_SID_CTX_LENGTH); Node's own default is 32 hex digits too.
  return hash.digest('hex').slice(0, 32);
}

/**
 * `ssl.include.protocols` / `ssl.exclude.protocols` / `ssl.include.ciphers` / `ssl.exclude.ciphers` (Knox's names,
 * Jetty's semantics; config/tls-policy.ts): the protocol range and cipher string offered. Never below TLS 1.2.
 * Without cipher lists, {@link PREFERRED_CIPHERS} in the server's order. Session resumption is Node's default:
 * TLS 1.3 and 1.2 session tickets, with keys made at start and rotated with the process.
 */
function protocolOptions(settings: GatewaySettings): Partial<ServerTls> {
  const policy = tlsPolicy(settings.ssl);
  // gateway-site refused these lists already; a settings object built another way fails here, closed.
  if ('problem' in policy) throw new Error(`${policy.key}: ${policy.problem}`);
  return {
    minVersion: policy.minVersion,
    maxVersion: policy.maxVersion,
    ciphers: policy.ciphers ?? PREFERRED_CIPHERS,
    honorCipherOrder: true,
  };
}

/**
 * `ssl.renegotiation` (Knox's name; `GatewayConfigImpl.isSSLRenegotiationAllowed`, default true there): postern's
 * default is false. A client-initiated TLS 1.2 renegotiation makes the server redo the expensive half of a
 * handshake on an open connection, as often as the client asks; OpenSSL refuses it outright with
 * `SSL_OP_NO_RENEGOTIATION` (TLS 1.3 has no renegotiation at all).
 */
function renegotiationOptions(settings: GatewaySettings): Partial<ServerTls> {
  return settings.ssl.renegotiation ? {} : { secureOptions: constants.SSL_OP_NO_RENEGOTIATION };
}

/** The trust for client certificates and the listener's verify mode, from gateway-site. */
function clientAuthOptions(settings: GatewaySettings, home: string, identity: ServerTls): Partial<ServerTls> {
  const ssl = settings.ssl;
  if (!ssl.clientAuthNeeded && !ssl.clientAuthWanted) return {};
  if (ssl.trustAllCerts) {
    throw new Error(
      'gateway.trust.all.certs=true would accept any client certificate; postern always verifies them against ' +
        'gateway.truststore.path. Remove the property (or set it to false).',
    );
  }
  let ca: Buffer;
  if (ssl.truststorePath) {
    ca = readTrustStore(
      {
        key: 'gateway.truststore.path',
        path: ssl.truststorePath,
        type: ssl.truststoreType,
        passwordAlias: ssl.truststorePasswordAlias,
      },
      home,
    );
  } else if (identity.cert) {
    // Knox's default: the identity keystore is the truststore.
    ca = identity.cert as Buffer;
  } else {
    throw new Error(
      'gateway.client.auth.needed/wanted: set gateway.truststore.path (a PEM file of the CAs whose client ' +
        'certificates are accepted); postern cannot take trust from a PKCS12 identity keystore',
    );
  }
  const needed = ssl.clientAuthNeeded;
  const exempt = new Set(needed ? ssl.clientAuthExclude : []);
  const atHandshake = needed && exempt.size === 0;
  return {
    ca,
    requestCert: true,
    rejectUnauthorized: atHandshake,
    clientAuth: { mode: needed ? 'needed' : 'wanted', exempt, atHandshake },
  };
}

async function loadIdentity(settings: GatewaySettings, home: string): Promise<ServerTls> {
  const ssl = settings.ssl;
  // The floor again here, so that an identity is never served below TLS 1.2 whatever protocolOptions says.
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
  // Knox's identity keystore (config/keystore.ts): the configured one, else data/security/keystores/gateway.jks.
  const fromKeystore = readIdentityKeystore(settings, home);
  if (fromKeystore) return { ...fromKeystore, ...protocols };
  const certFile = join(home, 'data', 'security', 'gateway.crt');
  const keyFile = join(home, 'data', 'security', 'gateway.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) await generateSelfSigned(certFile, keyFile);
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), ...protocols, source: certFile };
}
