/**
 * @module bench/nginx-conf
 * The configuration of every nginx the benchmarks start (bench/run.ts, bench/http2.ts, bench/bodies.ts): one
 * process in the foreground (no master), its files under `dir`, access log off, and no limit of requests per
 * connection on either side (Node's servers have none; nginx's default is 1,000), towards an upstream `backend`
 * with 64 idle connections kept. Each caller gives its `server` block and any other `http` directives.
 */
export interface NginxConf {
  /** The first line's comment: what this nginx is for. */
  purpose: string;
  workerConnections: number;
  /** `worker_rlimit_nofile`, for rows with thousands of connections. */
  rlimitNofile?: number;
  /** The backend, `host:port`. */
  upstream: string;
  /** More `http` directives, each line indented as the block's. */
  http?: string[];
  /** The `server` block's directives, each line indented as the block's. */
  server: string[];
}

/**
 * The proxy buffers of the `nginx-64k` rows (issue 18's "stretch anchor"): nginx reads the backend's answer into 64
 * KiB buffers and writes them to the client from there, where its defaults read and write 4 or 8 KiB at a time
 * (one page).
 */
export const NGINX_64K_BUFFERS = [
  'proxy_buffer_size 64k;',
  'proxy_buffers 8 64k;',
  'proxy_busy_buffers_size 128k;',
];

/**
 * A `location` relaying WebSocket upgrades at `path` to `target` (a `proxy_pass` target: `http://backend` for the
 * configuration's upstream, or a URL), with the Upgrade headers passed on and 300 s before an idle one is cut: the
 * WebSocket rows' nginx (bench/run.ts, bench/ws-ab.ts).
 */
export function nginxWebSocketLocation(path: string, target: string): string[] {
  return [
    `location ${path} {`,
    `  proxy_pass ${target};`,
    '  proxy_http_version 1.1;',
    '  proxy_set_header Upgrade $http_upgrade;',
    '  proxy_set_header Connection "upgrade";',
    '  proxy_read_timeout 300s;',
    '}',
  ];
}

export function nginxConfig(dir: string, c: NginxConf): string {
  return `# postern bench: ${c.purpose}
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
${c.rlimitNofile ? `worker_rlimit_nofile ${c.rlimitNofile};\n` : ''}events { worker_connections ${c.workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${(c.http ?? []).map((l) => `  ${l}\n`).join('')}  upstream backend {
    server ${c.upstream};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
${c.server.map((l) => `    ${l}\n`).join('')}  }
}
`;
}
