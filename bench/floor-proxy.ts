/**
 * @module bench/floor-proxy
 * The floor for any Node proxy: a bare `node:http` server that streams every request to the upstream through one
 * undici Pool and streams the answer back, with nothing else (no routing, no headers policy, no logs). A Node
 * gateway cannot be cheaper than this; the bench reports postern against it.
 *
 *   node bench/floor-proxy.ts --upstream http(s)://127.0.0.1:PORT [--port N] [--tls-cert c.pem --tls-key k.pem]
 *                             [--ca upstream-ca.pem]
 *
 * Prints `listening <port>` on stdout once bound.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    // TLS on the listener (PEM), and the CA an https upstream is verified against.
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    ca: { type: 'string' },
  },
});
if (!values.upstream) {
  process.stderr.write('usage: node bench/floor-proxy.ts --upstream http://127.0.0.1:PORT [--port N]\n');
  process.exit(2);
}

const pool = new Pool(values.upstream, {
  connections: 32,
  ...(values.ca ? { connect: { ca: readFileSync(values.ca) } } : {}),
});
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (!HOP.has(name)) headers[name] = req.rawHeaders[i + 1];
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool.request(
    { method: req.method as 'GET', path: req.url ?? '/', headers, body: hasBody ? req : undefined },
    (err, data) => {
      if (err) {
        res.writeHead(502).end();
        return;
      }
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(data.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      // A client that went away while the backend answered (wrk closing its connections at the end of a run).
      if (res.destroyed) {
        data.body.destroy();
        return;
      }
      res.writeHead(data.statusCode, out);
      pipeline(data.body, res, () => {});
    },
  );
};
const server =
  values['tls-cert'] && values['tls-key']
    ? https.createServer(
        { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) },
        handler,
      )
    : http.createServer(handler);
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.close();
  pool.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
