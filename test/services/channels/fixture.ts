/**
 * Helpers for the CHANNELS tests: a topology with ShiroProvider (postern's file realm: Basic logins and the
 * KNOXSESSIONID session cookie) and the CHANNELS service, real `ws` clients that collect JSON frames, and
 * publishing over HTTP.
 */
import { request } from 'undici';
import { WebSocket } from 'ws';
import { hashPassword } from '../../../src/providers/authentication/shiro/password-hash.ts';
import type { TestHome } from '../../helpers/home.ts';

export const PASSWORDS: Record<string, string> = {
  alice: 'alice-password',
  bob: 'bob-password',
  pub: 'pub-password',
  eve: 'eve-password',
};
const GROUPS: Record<string, string[]> = {
  alice: ['ops'],
  bob: [],
  pub: ['publishers'],
  eve: ['outsiders'],
};

/** Writes `conf/users.yaml` (scrypt hashes) into the home. */
export async function writeUsers(home: TestHome): Promise<void> {
  const lines = ['users:'];
  for (const [user, password] of Object.entries(PASSWORDS)) {
    lines.push(`  ${user}:`, `    password: "${await hashPassword(password)}"`);
    lines.push(`    groups: [${GROUPS[user].join(', ')}]`);
  }
  home.write('conf/users.yaml', `${lines.join('\n')}\n`);
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A topology: ShiroProvider (file realm, Basic), Default identity assertion, CHANNELS with `params`. */
export function channelsTopology(
  params: Record<string, string> = {},
  extraProviders = '',
  shiroParams: Record<string, string> = {},
): string {
  const shiro: Record<string, string> = {
    'main.fileRealm': 'postern.FileRealm',
    'main.fileRealm.usersFile': 'conf/users.yaml',
    'urls./**': 'authcBasic',
    ...shiroParams,
  };
  const p = (o: Record<string, string>, indent: string) =>
    Object.entries(o)
      .map(([n, v]) => `${indent}<param><name>${xml(n)}</name><value>${xml(v)}</value></param>`)
      .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<topology>
  <gateway>
    <provider>
      <role>authentication</role>
      <name>ShiroProvider</name>
      <enabled>true</enabled>
${p(shiro, '      ')}
    </provider>
    <provider>
      <role>identity-assertion</role>
      <name>Default</name>
      <enabled>true</enabled>
    </provider>
${extraProviders}
  </gateway>
  <service>
    <role>CHANNELS</role>
${p(params, '    ')}
  </service>
</topology>
`;
}

/** Publishers may publish into any prefix by default in these tests; subscriptions are open. */
export const PUBLISHERS = { 'channels.publish.acl': 'pub,alice;*;*' };

export function basic(user: string): string {
  return `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}`;
}

// biome-ignore lint/suspicious/noExplicitAny: frames are JSON of any shape.
export type Frame = any;

/** A WebSocket client that queues every text frame (parsed) and the close. */
export class Client {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  #waiters: ((f: Frame) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      this.raw.push(text);
      const frame = JSON.parse(text);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Opens a client; rejects with `status N` when the upgrade is refused. */
  static open(
    url: string,
    headers: Record<string, string> = {},
    options: { ca?: string; autoPong?: boolean } = {},
  ): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, ...options });
      const client = new Client(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`status ${res.statusCode}`));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  /** The next frame (waits up to `ms`). */
  next(ms = 10_000): Promise<Frame> {
    const queued = this.frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no frame within ${ms} ms`));
      }, ms);
      const waiter = (f: Frame) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.#waiters.push(waiter);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a subscription and returns the frames up to and including its `groups_current` reply. */
  async subscribe(groups: Record<string, unknown[]>, extra: Record<string, unknown> = {}): Promise<Frame[]> {
    this.send({ groups, ...extra });
    const frames: Frame[] = [];
    for (;;) {
      const f = await this.next();
      frames.push(f);
      if ('groups_current' in f) return frames;
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** POSTs events to a topology's publish endpoint. */
export async function publish(
  gatewayUrl: string,
  topology: string,
  body: unknown,
  user = 'pub',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Frame; headers: Record<string, string | string[] | undefined> }> {
  const res = await request(`${gatewayUrl}/${topology}/websocket/publish`, {
    method: 'POST',
    headers: { authorization: basic(user), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** `ws://…/gateway/{topology}/websocket/` for a gateway URL (`http://…/gateway`). */
export function wsUrl(gatewayUrl: string, topology: string, path = '/websocket/'): string {
  return `${gatewayUrl.replace(/^http/, 'ws')}/${topology}${path}`;
}

/** Waits until `check` holds (polling every 20 ms, up to `ms`). */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
