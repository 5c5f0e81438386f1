/**
 * @module bench/tls-cert
 * The certificate of the benchmarks' TLS rows (bench/bodies.ts, bench/bodies-ab.ts, bench/http2.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface Tls {
  cert: string;
  key: string;
  p12: string;
  password: string;
}

/** One self-signed EC P-256 certificate for 127.0.0.1 for every TLS row (PEM and PKCS#12 for Jetty). */
export function makeCert(dir: string): Tls {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const p12 = join(dir, 'cert.p12');
  const password = 'bench-only';
  const sh = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  sh([
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
  ]);
  sh(['pkcs12', '-export', '-in', cert, '-inkey', key, '-out', p12, '-passout', `pass:${password}`]);
  return { cert, key, p12, password };
}
