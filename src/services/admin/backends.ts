/**
 * @module services/admin/backends
 * The console's backends and TLS pages: every backend URL of every serving topology (not only HA ones) with
 * its state and last error, and the certificates the gateway serves and trusts.
 *
 * A backend's state comes from three places: HA's own view when the service is under HA (`ha`), a connection
 * probe made by this module (TCP connect, or a TLS handshake for `https`/`wss`: `probe`), and the last 5xx
 * answer recorded for its service (`lastError`). Probes run only when the page asks (`GET …/backends`), at most
 * once per {@link PROBE_TTL_MS} per URL, all in parallel with a {@link PROBE_TIMEOUT_MS} timeout each, and never
 * on the request path. A TLS probe verifies the backend's certificate against the same CAs the dispatch uses
 * (gateway-site `gateway.httpclient.truststore.path`, else Node's) and reports its subject, issuer and expiry.
 *
 * The listener's certificate is the one this very connection was served with (`TLSSocket#getCertificate`), so
 * it is what clients see whatever the identity's source (PEM files, keystore, generated).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import {
  type DetailedPeerCertificate,
  type PeerCertificate,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';
import { backendHealth } from '../../dispatch/ha/service.ts';
import type { Exchange, GatewayHandle, RecentErrorReport } from '../../spi/index.ts';
import { homePath, safeUrl } from './common.ts';
import type { HealthRow } from './gateway-wide.ts';

const PROBE_TTL_MS = 10_000;
const PROBE_TIMEOUT_MS = 3_000;
/** An upper bound on the URLs probed at once (a page of topologies, not a port scan). */
const MAX_PROBES = 200;
const DAY_MS = 86_400_000;

export interface CertificateReport {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  /** Whole days until it expires (negative: expired). */
  daysLeft: number;
  subjectAltName?: string;
  fingerprint256: string;
}

interface Probe {
  state: 'up' | 'down';
  /** Why it is down: the error code and message. */
  error?: string;
  ms: number;
  checkedAt: string;
  tls?: { authorized: boolean; error?: string; certificate?: CertificateReport };
}

const probes = new Map<string, { at: number; result: Promise<Probe> }>();

function x509Report(cert: X509Certificate, now = Date.now()): CertificateReport {
  const validTo = new Date(cert.validTo);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now) / DAY_MS),
    ...(cert.subjectAltName && { subjectAltName: cert.subjectAltName }),
    fingerprint256: cert.fingerprint256,
  };
}

function peerReport(cert: PeerCertificate | DetailedPeerCertificate): CertificateReport | undefined {
  if (!cert?.raw) return undefined;
  return x509Report(new X509Certificate(cert.raw));
}

/** The certificates of a PEM file (a truststore), each reported; a file that cannot be read says why. */
export function pemFileReport(
  gateway: GatewayHandle,
  setting: string,
  path: string | undefined,
): { setting: string; file: string; certificates: CertificateReport[]; error?: string } | undefined {
  if (!path) return undefined;
  const file = isAbsolute(path) ? path : resolve(gateway.layout.home, path);
  const shown = homePath(gateway, file);
  if (!existsSync(file)) return { setting, file: shown, certificates: [], error: 'file not found' };
  try {
    const text = readFileSync(file, 'latin1');
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return { setting, file: shown, certificates: blocks.map((b) => x509Report(new X509Certificate(b))) };
  } catch (err) {
    return { setting, file: shown, certificates: [], error: (err as Error).message };
  }
}

function backendCa(gateway: GatewayHandle): Buffer | undefined {
  const path = gateway.settings.httpclient.truststorePath;
  if (!path) return undefined;
  const file = isAbsolute(path) ? path : resolve(gateway.layout.home, path);
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function probe(url: URL, ca: Buffer | undefined): Promise<Probe> {
  const started = performance.now();
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  const port = Number(url.port) || (secure ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<Probe>((done) => {
    const finish = (p: Omit<Probe, 'ms' | 'checkedAt'>) => {
      clearTimeout(timer);
      socket.destroy();
      done({
        ...p,
        ms: Math.round((performance.now() - started) * 10) / 10,
        checkedAt: new Date().toISOString(),
      });
    };
    const socket = secure
      ? tlsConnect({
          host,
          port,
          // SNI takes a name, never an address.
          ...(!/^[\d.]+$|:/.test(host) && { servername: host }),
          ...(ca && { ca }),
          rejectUnauthorized: false,
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect({ host, port });
    const timer = setTimeout(
      () => finish({ state: 'down', error: `no connection within ${PROBE_TIMEOUT_MS} ms` }),
      PROBE_TIMEOUT_MS,
    );
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish({ state: 'down', error: err.code ? `${err.code}: ${err.message}` : err.message }),
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (!secure) return finish({ state: 'up' });
      const tls = socket as TLSSocket;
      const authorized = tls.authorized;
      const error = tls.authorizationError ? String(tls.authorizationError) : undefined;
      finish({
        // A certificate the dispatch would refuse makes the backend unusable: down, and why.
        state: authorized ? 'up' : 'down',
        ...(error && { error: `certificate not trusted: ${error}` }),
        tls: { authorized, ...(error && { error }), certificate: peerReport(tls.getPeerCertificate()) },
      });
    });
  });
}

function probeCached(url: string, ca: Buffer | undefined): Promise<Probe> {
  const now = Date.now();
  const cached = probes.get(url);
  if (cached && now - cached.at < PROBE_TTL_MS) return cached.result;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve({ state: 'down', error: 'not a URL', ms: 0, checkedAt: new Date().toISOString() });
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    return Promise.resolve({
      state: 'down',
      error: `${parsed.protocol} URLs are not probed`,
      ms: 0,
      checkedAt: new Date().toISOString(),
    });
  }
  const result = probe(parsed, ca);
  probes.set(url, { at: now, result });
  if (probes.size > MAX_PROBES * 4) probes.delete(probes.keys().next().value as string);
  return result;
}

/**
 * Every backend URL of every serving topology, with HA state, a probe and the service's last 5xx.
 * @param wide the whole gateway's HA states and recent errors (services/admin/gateway-wide.ts), with several
 *   workers; without it, this process's
 */
export async function backendsOf(
  gateway: GatewayHandle,
  wide?: { health: readonly HealthRow[]; errors: readonly RecentErrorReport[] },
) {
  const ha = new Map(
    (wide?.health ?? backendHealth()).map((h) => [`${h.topology}\n${h.service}\n${safeUrl(h.url)}`, h.state]),
  );
  const lastErrors = new Map<string, { time: string; message: string }>();
  for (const e of wide?.errors ?? gateway.recentErrors.list()) {
    const r = e as { service?: string; kind: string; time: string; message: string; topology: string };
    if (r.kind === 'deployment') continue;
    const key = `${r.topology}\n${r.service ?? ''}`;
    if (!lastErrors.has(key)) lastErrors.set(key, { time: r.time, message: r.message });
  }
  const ca = backendCa(gateway);
  const rows: {
    topology: string;
    service: string;
    url: string;
    ha?: 'up' | 'down';
    probe?: Promise<Probe>;
    lastError?: { time: string; message: string };
  }[] = [];
  for (const t of gateway.topologies()) {
    for (const s of t.serving?.services ?? []) {
      if (s.state !== 'deployed') continue;
      for (const url of s.urls) {
        if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) continue;
        rows.push({
          topology: t.name,
          service: s.role,
          url,
          ha: ha.get(`${t.name}\n${s.role}\n${safeUrl(url)}`),
          probe: rows.length < MAX_PROBES ? probeCached(url, ca) : undefined,
          lastError: lastErrors.get(`${t.name}\n${s.role}`),
        });
      }
    }
  }
  const backends = [];
  for (const r of rows) {
    const p = await r.probe;
    // HA's view wins when it has one: it is what requests are routed by.
    const state = r.ha ?? p?.state ?? 'unknown';
    backends.push({
      topology: r.topology,
      service: r.service,
      url: safeUrl(r.url),
      state,
      ...(r.ha && { ha: r.ha }),
      ...(p && { probe: p }),
      ...(r.lastError && { lastError: r.lastError }),
    });
  }
  return { backends, probeTtlMs: PROBE_TTL_MS };
}

/** The listener's certificate (as this connection was served), and the truststores gateway-site names. */
export function tlsOf(ex: Exchange, gateway: GatewayHandle) {
  const socket = ex.req.socket as TLSSocket | null;
  const own = socket && typeof socket.getCertificate === 'function' ? socket.getCertificate() : null;
  const listener =
    own && 'raw' in own && own.raw ? { certificate: peerReport(own as PeerCertificate) } : undefined;
  const settings = gateway.settings;
  return {
    enabled: settings.ssl.enabled,
    ...(listener && { listener }),
    truststores: [
      pemFileReport(gateway, 'gateway.truststore.path (client certificates)', settings.ssl.truststorePath),
      pemFileReport(
        gateway,
        'gateway.httpclient.truststore.path (backends)',
        settings.httpclient.truststorePath,
      ),
    ].filter((t) => t !== undefined),
  };
}
