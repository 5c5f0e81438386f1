/**
 * @module bench/fastify-proxy
 * The peer Node proxy for the benchmark: fastify (logger off) with @fastify/http-proxy forwarding every path to
 * the upstream, with @fastify/reply-from's defaults (undici Pool, 128 connections, pipelining 1).
 *
 *   node bench/fastify-proxy.ts --upstream http://127.0.0.1:PORT [--port N]
 *
 * Prints `listening <port>` on stdout once bound.
 */
import { parseArgs } from 'node:util';
import httpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!values.upstream) {
  process.stderr.write('usage: node bench/fastify-proxy.ts --upstream http://127.0.0.1:PORT [--port N]\n');
  process.exit(2);
}

const app = Fastify({ logger: false });
await app.register(httpProxy, { upstream: values.upstream, http2: false });
await app.listen({ port: Number(values.port), host: values.host });
const address = app.server.address();
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : values.port}\n`);

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
