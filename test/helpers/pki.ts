/**
 * A private PKI made at test time with the `openssl` command: certificate authorities and the certificates they
 * issue (EC P-256, two days), each written as PEM files into a directory.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
  /** The files (absolute paths). */
  certFile: string;
  keyFile: string;
}

export interface Authority extends Pem {
  name: string;
  /** Issues a certificate for TLS servers and clients alike. */
  issue(options: { name: string; cn: string; dns?: string[]; ips?: string[] }): Pem;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function read(certFile: string, keyFile: string): Pem {
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

/** A self-signed CA in `dir` (files `{name}.crt`, `{name}.key`). */
export function makeAuthority(dir: string, name: string, cn = `${name} test CA`): Authority {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 1;
  return {
    name,
    ...read(certFile, keyFile),
    issue({ name: leaf, cn: leafCn, dns = [], ips = [] }) {
      const leafCert = join(dir, `${leaf}.crt`);
      const leafKey = join(dir, `${leaf}.key`);
      const csr = join(dir, `${leaf}.csr`);
      const ext = join(dir, `${leaf}.ext`);
      openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        leafKey,
        '-out',
        csr,
        '-subj',
        `/CN=${leafCn}`,
      ]);
      const sans = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)];
      writeFileSync(
        ext,
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature',
          'extendedKeyUsage=serverAuth,clientAuth',
          ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
        ].join('\n'),
      );
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        certFile,
        '-CAkey',
        keyFile,
        '-set_serial',
        String(serial++),
        '-days',
        '2',
        '-sha256',
        '-extfile',
        ext,
        '-out',
        leafCert,
      ]);
      return read(leafCert, leafKey);
    },
  };
}
