/**
 * @module demo/ws-echo
 * A WebSocket echo backend (the sandbox topology's `ECHOWS` service) built on `ws`. It accepts an upgrade on any
 * path and:
 *
 * - sends every text frame back as text and every binary frame back as binary, unchanged;
 * - answers a close with the client's own close code and reason;
 * - accepts the first subprotocol the client offers, so proxies can be checked for passing it through;
 * - adds `X-Echo-Path: <request path and query>` to the 101 response, so a test can see where a gateway's rewrite
 *   sent the upgrade without the echo stream carrying anything extra;
 * - on request (`?closeAfter=N&closeCode=C&closeReason=R`), closes the connection itself after echoing N messages,
 *   for tests of backend-initiated close (default code 1000).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { closeServer, type RunningBackend } from './rest-api.ts';

export interface WsEchoOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; 0 picks a free port. Default 18081. */
  port?: number;
}

/** Close codes an endpoint may put in a close frame (RFC 6455 §7.4). */
function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Starts the WebSocket echo backend. `url` is its `ws://` base URL.
 *
 * @example
 * const echo = await startWsEcho({ port: 0 });
 * const socket = new WebSocket(`${echo.url}/any/path`);
 */
export async function startWsEcho(options: WsEchoOptions = {}): Promise<RunningBackend> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((_req, res) => {
    const text = 'This is a WebSocket echo endpoint: connect with an Upgrade request.\n';
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' });
    res.end(text);
  });
  // Listen before attaching the WebSocketServer: it re-emits the server's errors, and a failed listen must reach
  // the caller as a rejection, not as an unhandled 'error' event.
  server.listen(options.port ?? 18081, host);
  await once(server, 'listening');
  const wss = new WebSocketServer({
    server,
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
  });

  wss.on('headers', (headers, req) => {
    // Header values must not carry CR/LF; ws has already validated the request line, this is belt and braces.
    headers.push(`X-Echo-Path: ${(req.url ?? '/').replace(/[\r\n]/g, '')}`);
  });

  wss.on('connection', (socket, req) => {
    const query = new URL(req.url ?? '/', 'ws://backend.invalid').searchParams;
    const closeAfter = query.has('closeAfter') ? Number(query.get('closeAfter')) : Number.NaN;
    const requestedCode = Number(query.get('closeCode') ?? 1000);
    const closeCode = isSendableCloseCode(requestedCode) ? requestedCode : 1000;
    const closeReason = (query.get('closeReason') ?? '').slice(0, 120);
    let echoed = 0;

    socket.on('message', (data, isBinary) => {
      socket.send(data, { binary: isBinary }, () => {
        echoed += 1;
        if (echoed === closeAfter) socket.close(closeCode, closeReason);
      });
    });
    if (closeAfter === 0) socket.close(closeCode, closeReason);

    // The client's close code and reason come back without code here: ws answers a close frame with the code and
    // reason it received (an empty close, 1005, gets an empty close). test/demo/ws-echo.test.ts pins this down.
    socket.on('error', () => socket.terminate());
  });

  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `ws://${hostPart}:${address.port}`,
    port: address.port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeServer(server);
    },
  };
}
