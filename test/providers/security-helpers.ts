/**
 * Helpers for the security-provider tests (HeaderPreAuth, AclsAuthz, WebAppSec): a gateway whose audit events
 * are kept in memory, an echo backend, clients bound to another loopback source address, and the line of a
 * param in a topology file (deployment diagnostics must point at it).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Agent, type Dispatcher, request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { Gateway } from '../../src/gateway/gateway.ts';
import { auditLogOn } from '../../src/observability/audit.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import type { TestHome } from '../helpers/home.ts';

export interface AuditEvent {
  action: string;
  outcome: string;
  topology: string;
  service: string;
  provider?: string;
  user?: string;
  effectiveUser?: string;
  reason?: string;
  remote?: string;
  method?: string;
}

/** A gateway on the home (no watching) whose audit events land in `events`. */
export async function startAuditedGateway(
  home: TestHome,
): Promise<{ gateway: Gateway; events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  const logger = pino(
    { level: 'info', base: undefined },
    { write: (line: string) => events.push(JSON.parse(line) as AuditEvent) },
  );
  const log = createLogger({
    level: process.env.POSTERN_TEST_LOG ?? 'silent',
    stdout: !!process.env.POSTERN_TEST_LOG,
  });
  const gateway = await Gateway.start({
    home: home.dir,
    port: 0,
    host: '127.0.0.1',
    log,
    watch: false,
    audit: auditLogOn(logger),
  });
  return { gateway, events };
}

export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** A backend that answers every request with what it received, as JSON. */
export function startEchoBackend(): Promise<Backend> {
  return startBackend((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    });
  });
}

/** An undici agent whose connections come from the given loopback address (127.0.0.2, ...). */
export function agentFrom(localAddress: string): Agent {
  return new Agent({ localAddress });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The echo, when the backend answered. */
  echo?: Echo;
}

export async function call(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: string;
    dispatcher?: Dispatcher;
  } = {},
): Promise<Answer> {
  const res = await request(url, {
    method: (options.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: options.headers,
    body: options.body,
    dispatcher: options.dispatcher,
  });
  const text = await res.body.text();
  let echo: Echo | undefined;
  if (String(res.headers['content-type']).startsWith('application/json') && text.startsWith('{"method"')) {
    echo = JSON.parse(text) as Echo;
  }
  return { status: res.statusCode, headers: res.headers, text, echo };
}

/** The 1-based line of the first `<name>{param}</name>` in a file's text. */
export function paramLine(text: string, param: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(`<name>${param}</name>`));
  if (index < 0) throw new Error(`param ${param} not in the file`);
  return index + 1;
}

export interface WsBackend {
  url: string;
  /** Upgrades the backend accepted. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A WebSocket backend that echoes text and counts the connections it accepted. */
export async function startWsBackend(): Promise<WsBackend> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    socket.on('message', (data, binary) => socket.send(data, { binary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Opens a WebSocket through the gateway: resolves with the open socket, or with the HTTP status and headers of
 * the refusal (the gateway answers a refused upgrade with a plain HTTP response).
 */
export function openWs(
  url: string,
  options: { origin?: string; headers?: Record<string, string> } = {},
): Promise<{ ws?: WebSocket; status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin: options.origin, headers: options.headers });
    ws.once('open', () => resolve({ ws, status: 101, headers: {} }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      ws.terminate();
    });
    ws.on('error', reject);
  });
}
