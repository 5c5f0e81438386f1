/**
 * Seed 004's hybrid set-up, built for real: a private CA and the certificates it issues (plus a second CA that
 * issues an impostor), a backend (HTTP and WebSocket) behind a "cloud" postern that trusts the federation header
 * only through HeaderPreAuth with IP and client-certificate validation, and an "on-prem" postern that
 * authenticates users with ShiroProvider's file realm and federates to the cloud with
 * HeaderPreAuthFederationDispatch over mutual TLS. Both gateways are `postern start` processes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect } from 'node:tls';
import { Agent, type Dispatcher, request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { siteXml } from '../helpers/home.ts';
import { type Authority, makeAuthority, type Pem } from '../helpers/pki.ts';
import { type PosternProcess, startPostern } from '../helpers/postern-process.ts';

/** The federation header, a custom name as in the seed's example. */
export const HEADER = 'aws_header';

export interface Addresses {
  /** Where the cloud gateway binds, and the address the on-prem gateway dials. */
  cloudBind: string;
  cloudAddress: string;
  /** Where the on-prem gateway binds, and the address the test dials. */
  onpremBind: string;
  onpremAddress: string;
  /** Where the backend binds (reachable from the cloud gateway). */
  backendBind: string;
  /** The on-prem gateway's source address as the cloud sees it: the cloud's IP allow-list. */
  trustedSource: string;
  /** More addresses the gateways' certificates name (the cloud reached directly by another route). */
  extraIps?: string[];
  /** Network namespaces to run the gateways in (none: this namespace). */
  cloudNetns?: string;
  onpremNetns?: string;
}

/** What the backend saw of one request or WebSocket handshake. */
export interface Seen {
  url: string;
  user: string[];
  headers: IncomingMessage['headers'];
}

export interface Federation {
  dir: string;
  ca: Authority;
  onpremCert: Pem;
  /** Same CA, another name: trusted by TLS, not by the cloud's client-certificate names. */
  rogue: Pem;
  /** Another CA's certificate, with the on-prem gateway's name. */
  impostor: Pem;
  cloud: PosternProcess;
  onprem: PosternProcess;
  /** `https://{cloud}:{port}/gateway/cloud`. */
  cloudUrl: string;
  /** `https://{onprem}:{port}/gateway`. */
  onpremUrl: string;
  backendRequests: Seen[];
  /** An undici agent that trusts the CA (and presents `identity`, from `localAddress`, when given). */
  agent(options?: { identity?: Pem; localAddress?: string }): Agent;
  /** The cloud gateway's audit events so far. */
  cloudAudit(): Record<string, unknown>[];
  close(): Promise<void>;
}

function seen(req: IncomingMessage): Seen {
  const url = new URL(req.url ?? '/', 'http://backend');
  return { url: req.url ?? '', user: url.searchParams.getAll('user.name'), headers: req.headers };
}

async function startBackend(host: string): Promise<{ server: Server; url: string; requests: Seen[] }> {
  const requests: Seen[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const s = seen(req);
      requests.push(s);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(s));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    // The first message says who the handshake came as; every later one is echoed.
    ws.send(JSON.stringify(seen(req)));
    ws.on('message', (data) => ws.send(`echo: ${data}`));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${host}:${port}`, requests };
}

const provider = (role: string, name: string, params: Record<string, string>) => `    <provider>
      <role>${role}</role>
      <name>${name}</name>
      <enabled>true</enabled>
${Object.entries(params)
  .map(([n, v]) => `      <param><name>${n}</name><value>${v}</value></param>`)
  .join('\n')}
    </provider>`;

const topology = (providers: string[], services: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<topology>\n  <gateway>\n${providers.join('\n')}\n  </gateway>\n${services}\n</topology>\n`;

/** A federated service of the on-prem topology. */
const federated = (role: string, url: string, twoWay: boolean) => `  <service>
    <role>${role}</role>
    <url>${url}</url>
    <dispatch>
      <classname>org.apache.knox.gateway.dispatch.HeaderPreAuthFederationDispatch</classname>
      <use-two-way-ssl>${twoWay}</use-two-way-ssl>
    </dispatch>
  </service>`;

export async function startFederation(a: Addresses): Promise<Federation> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-federation-'));
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  const ca = makeAuthority(pki, 'corp');
  const sans = {
    dns: ['localhost'],
    ips: ['127.0.0.1', a.cloudAddress, a.onpremAddress, ...(a.extraIps ?? [])],
  };
  const cloudCert = ca.issue({ name: 'cloud', cn: 'cloud-gateway', ...sans });
  const onpremCert = ca.issue({ name: 'onprem', cn: 'onprem-gateway', ...sans });
  const rogue = ca.issue({ name: 'rogue', cn: 'rogue-client' });
  const impostor = makeAuthority(pki, 'other').issue({ name: 'impostor', cn: 'onprem-gateway', ...sans });

  const backend = await startBackend(a.backendBind);
  const processes: PosternProcess[] = [];
  const agents: Agent[] = [];
  const close = async () => {
    await Promise.allSettled(processes.map((p) => p.stop()));
    await Promise.allSettled(agents.map((g) => g.close()));
    backend.server.closeAllConnections();
    await new Promise<void>((resolve) => backend.server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // The cloud gateway: two-way TLS required of every client; the header believed only from the on-prem
    // gateway's address and certificate.
    const cloudHome = join(dir, 'cloud');
    const write = (home: string, relative: string, text: string) => {
      mkdirSync(join(home, relative, '..'), { recursive: true });
      writeFileSync(join(home, relative), text);
    };
    write(
      cloudHome,
      'conf/gateway-site.xml',
      siteXml({
        'gateway.host': a.cloudBind,
        'gateway.port': 0,
        'ssl.enabled': true,
        'gateway.tls.certificate.path': cloudCert.certFile,
        'gateway.tls.key.path': cloudCert.keyFile,
        'gateway.client.auth.needed': true,
        'gateway.truststore.path': ca.certFile,
        'gateway.truststore.type': 'PEM',
        'gateway.websocket.feature.enabled': true,
        // The on-prem gateway is the cloud's proxy: its X-Forwarded-For (the user's address) is kept.
        'postern.trusted.proxies': a.trustedSource,
      }),
    );
    write(
      cloudHome,
      'conf/topologies/cloud.xml',
      topology(
        [
          provider('federation', 'HeaderPreAuth', {
            'preauth.custom.header': HEADER,
            'preauth.validation.method': 'preauth.ip.validation,preauth.client.cert.validation',
            'preauth.ip.addresses': a.trustedSource,
            'preauth.client.cert.names': 'onprem-gateway',
          }),
          provider('identity-assertion', 'Default', {}),
        ],
        `  <service><role>HTTP</role><url>${backend.url}</url></service>
  <service><role>ECHOWS</role><url>${backend.url.replace('http:', 'ws:')}/ws</url></service>`,
      ),
    );
    const cloud = await startPostern(cloudHome, { netns: a.cloudNetns });
    processes.push(cloud);
    const cloudUrl = `https://${a.cloudAddress}:${cloud.port}/gateway/cloud`;

    // The on-prem gateway: users log in with Basic against a file realm; HTTP and ECHOWS federate to the cloud.
    const onpremHome = join(dir, 'onprem');
    write(
      onpremHome,
      'conf/gateway-site.xml',
      siteXml({
        'gateway.host': a.onpremBind,
        'gateway.port': 0,
        'ssl.enabled': true,
        'gateway.tls.certificate.path': onpremCert.certFile,
        'gateway.tls.key.path': onpremCert.keyFile,
        'gateway.httpclient.truststore.path': ca.certFile,
        'gateway.httpclient.truststore.type': 'PEM',
        'gateway.custom.federation.header.name': HEADER,
        'gateway.websocket.feature.enabled': true,
      }),
    );
    write(
      onpremHome,
      'conf/users.yaml',
      `users:\n  alice:\n    password: "${await hashPassword('alice-secret')}"\n  bob:\n    password: "${await hashPassword('bob-secret')}"\n`,
    );
    const onpremProviders = [
      provider('authentication', 'ShiroProvider', {
        'main.fileRealm': 'postern.FileRealm',
        'main.fileRealm.usersFile': 'conf/users.yaml',
        'urls./**': 'authcBasic',
      }),
      provider('identity-assertion', 'Default', { 'principal.mapping': 'bob=robert' }),
    ];
    write(
      onpremHome,
      'conf/topologies/onprem.xml',
      topology(
        onpremProviders,
        [
          federated('HTTP', `${cloudUrl}/http`, true),
          federated('ECHOWS', `${cloudUrl.replace('https:', 'wss:')}/echo/ws`, true),
        ].join('\n'),
      ),
    );
    // The same federation without use-two-way-ssl: the cloud's handshake refuses the gateway.
    write(
      onpremHome,
      'conf/topologies/oneway.xml',
      topology(onpremProviders, federated('HTTP', `${cloudUrl}/http`, false)),
    );
    const onprem = await startPostern(onpremHome, { netns: a.onpremNetns });
    processes.push(onprem);

    return {
      dir,
      ca,
      onpremCert,
      rogue,
      impostor,
      cloud,
      onprem,
      cloudUrl,
      onpremUrl: `https://${a.onpremAddress}:${onprem.port}/gateway`,
      backendRequests: backend.requests,
      agent(options = {}) {
        const agent = new Agent({
          ...(options.localAddress ? { localAddress: options.localAddress } : {}),
          connect: {
            ca: ca.cert,
            ...(options.identity ? { cert: options.identity.cert, key: options.identity.key } : {}),
          },
        });
        agents.push(agent);
        return agent;
      },
      cloudAudit() {
        let text = '';
        try {
          text = readFileSync(join(cloudHome, 'logs/audit.log'), 'utf8');
        } catch {}
        return text
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A request through undici; the JSON the backend echoed, when it answered. */
export async function get(
  url: string,
  dispatcher: Dispatcher,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; seen?: Seen }> {
  const res = await request(url, { dispatcher, headers });
  const body = await res.body.text();
  const seen = body.startsWith('{"url"') ? (JSON.parse(body) as Seen) : undefined;
  return { status: res.statusCode, body, seen };
}

/**
 * A raw TLS connection that sends one HTTP request as soon as its handshake completes: what came back (nothing,
 * when the server refused the handshake) and the error that ended it.
 */
export function rawTls(
  options: ConnectionOptions,
  path: string,
  headers: Record<string, string>,
): Promise<{ data: string; error?: string }> {
  return new Promise((resolve) => {
    let data = '';
    let error: string | undefined;
    const socket = connect(options, () => {
      const lines = Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`);
      socket.write(`GET ${path} HTTP/1.1\r\nhost: gateway\r\nconnection: close\r\n${lines.join('')}\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      data += d;
    });
    socket.on('error', (err: Error & { code?: string }) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ data, error }));
  });
}

/** Opens a WebSocket; resolves with the messages of the exchange (the backend's first, then the echo) or the refusal. */
export function federatedSocket(
  url: string,
  options: { ca: string; headers: Record<string, string> },
): Promise<{ status?: number; first?: Seen; echo?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca: options.ca, headers: options.headers });
    let first: Seen | undefined;
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    ws.once('error', reject);
    ws.on('message', (data) => {
      if (!first) {
        first = JSON.parse(String(data)) as Seen;
        ws.send('hello through two gateways');
        return;
      }
      ws.close();
      resolve({ first, echo: String(data) });
    });
  });
}
