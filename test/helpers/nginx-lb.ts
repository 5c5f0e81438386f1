/**
 * The bundled load-balancer example (`ops/nginx/postern-lb.conf`) run by a real nginx (Debian's, installed by
 * scripts/test.ts) in a test directory: the example's two node addresses and its listen port are replaced by the
 * test's, its `/etc/nginx/postern/` paths by the given files (or the directory), and it is included into a minimal
 * foreground nginx.conf whose temp paths and logs are in the directory.
 *
 * ```ts
 * const lb = startNginxLb({ dir, nodePorts: [a.port, b.port], port: await closedPort() });
 * after(() => lb.kill('SIGKILL'));
 * ```
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const NGINX = '/usr/sbin/nginx';

export function startNginxLb(options: {
  dir: string;
  /** The two nodes' ports on 127.0.0.1, in place of the example's 10.0.0.11 and 10.0.0.12. */
  nodePorts: [number, number];
  port: number;
  /** Files in place of the example's `/etc/nginx/postern/{lb.crt,lb.key,nodes-ca.crt}`; else all in `dir`. */
  files?: { cert: string; key: string; nodesCa: string };
}): ChildProcess {
  const { dir, files } = options;
  const example = readFileSync(join(REPO, 'ops/nginx/postern-lb.conf'), 'utf8');
  let conf = files
    ? example
        .replace('/etc/nginx/postern/lb.crt', files.cert)
        .replace('/etc/nginx/postern/lb.key', files.key)
        .replace('/etc/nginx/postern/nodes-ca.crt', files.nodesCa)
    : example.replaceAll('/etc/nginx/postern/', `${dir}/`);
  conf = conf
    .replace('10.0.0.11:8443', `127.0.0.1:${options.nodePorts[0]}`)
    .replace('10.0.0.12:8443', `127.0.0.1:${options.nodePorts[1]}`)
    .replace('listen 443 ssl;', `listen 127.0.0.1:${options.port} ssl;`);
  const directives = conf.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  assert.ok(!directives.some((l) => l.includes('/etc/nginx/')), 'every path of the example replaced');
  assert.ok(!conf.includes('10.0.0.1'), 'both node addresses replaced');
  writeFileSync(join(dir, 'postern-lb.conf'), conf);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/postern-lb.conf;
}
`,
  );
  return spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', join(dir, 'logs/nginx-error.log')], {
    stdio: 'ignore',
  });
}
