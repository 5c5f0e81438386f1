/**
 * A real Jupyter server behind Knox's JKG and JKGWS service definitions (../shared/knox-services, version 1.1.2),
 * through a running gateway with HeaderPreAuth and Default identity assertion: Debian's jupyter-server serves the
 * kernels REST API and the channels WebSocket that Jupyter Kernel Gateway serves (test/helpers/jupyter.ts), and a
 * real ipykernel runs the code.
 *
 * What it shows: the kernel specs list; a kernel created through JKG runs as the gateway's user (JkgDispatch sets
 * `env.KERNEL_USERNAME`, whatever the client sent), read back from inside the kernel; an `execute_request` over the
 * channels WebSocket through JKGWS gets its `execute_result`, with the client's `session_id` kept as Knox keeps an
 * upgrade's query; DELETE stops the kernel; and a client the federation
 * provider does not authenticate gets 401 on HTTP and on the WebSocket upgrade, with nothing reaching the server
 * (its own request log says so).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { call } from '../../helpers/cluster.ts';
import { makeHome, startGateway, type TestHome, topologyXml } from '../../helpers/home.ts';
import { type JupyterFixture, startJupyter } from '../../helpers/jupyter.ts';
import { KNOX_SERVICES } from '../../helpers/knox.ts';

const ALICE = { SM_USER: 'alice' };

interface Message {
  header: { msg_id: string; msg_type: string; session: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
  channel: string;
}

/** A Jupyter messaging protocol v5 `execute_request` on the shell channel. */
function executeRequest(code: string, session: string): Message & Record<string, unknown> {
  return {
    header: {
      msg_id: randomUUID(),
      session,
      username: 'alice',
      msg_type: 'execute_request',
      version: '5.3',
      date: new Date().toISOString(),
    } as Message['header'],
    parent_header: {},
    metadata: {},
    content: {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    },
    channel: 'shell',
  };
}

/** Opens a WebSocket; rejects with the HTTP status when the handshake is refused. */
function openSocket(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.once('error', reject);
  });
}

interface Execution {
  stdout: string;
  /** `text/plain` of the `execute_result` on iopub. */
  result?: string;
  resultChannel?: string;
  /** The shell channel's `execute_reply` status. */
  status?: string;
}

/** Runs code over an open channels socket: waits for the kernel's idle status and the execute_reply. */
function execute(ws: WebSocket, code: string, session: string): Promise<Execution> {
  const request = executeRequest(code, session);
  const id = request.header.msg_id;
  return new Promise((resolve, reject) => {
    const out: Execution = { stdout: '' };
    let idle = false;
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`no answer to execute_request within 15 s: ${JSON.stringify(out)}`));
    }, 15_000);
    const onMessage = (data: WebSocket.RawData, binary: boolean) => {
      if (binary) return;
      const m = JSON.parse(data.toString()) as Message;
      if (m.parent_header.msg_id !== id) return;
      const type = m.header.msg_type;
      if (type === 'stream' && m.content.name === 'stdout') out.stdout += String(m.content.text);
      else if (type === 'execute_result') {
        out.result = (m.content.data as Record<string, string>)['text/plain'];
        out.resultChannel = m.channel;
      } else if (type === 'execute_reply') out.status = String(m.content.status);
      else if (type === 'status' && m.content.execution_state === 'idle') idle = true;
      if (idle && out.status !== undefined) {
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(out);
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify(request));
  });
}

const closeSocket = (ws: WebSocket) =>
  new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
  });

describe("a real Jupyter server behind Knox's JKG and JKGWS definitions", () => {
  let jupyter: JupyterFixture;
  let home: TestHome;
  let gateway: Gateway;
  let base: string;
  let wsBase: string;
  const kernels: string[] = [];

  before(async () => {
    jupyter = await startJupyter();
    home = makeHome({ 'postern.services.dirs': KNOX_SERVICES, 'gateway.websocket.feature.enabled': true });
    home.write(
      'conf/topologies/jupyter.xml',
      topologyXml({
        providers: [
          { role: 'federation', name: 'HeaderPreAuth' },
          { role: 'identity-assertion', name: 'Default' },
        ],
        // As Knox's user guide writes them: http:// for the REST API, ws:// for the channels.
        services: [
          { role: 'JKG', name: 'jkg', version: '1.1.2', urls: [jupyter.url] },
          { role: 'JKGWS', name: 'jkgws', version: '1.1.2', urls: [`ws://127.0.0.1:${jupyter.port}`] },
        ],
      }),
    );
    gateway = await startGateway(home);
    base = '/gateway/jupyter';
    wsBase = `ws://127.0.0.1:${gateway.port}${base}/jkgws`;
  });

  after(async () => {
    // Kernels a failed test left behind, straight at the server.
    for (const id of kernels)
      await fetch(`${jupyter.url}/api/kernels/${id}`, { method: 'DELETE' }).catch(() => {});
    await gateway?.close();
    home?.remove();
    await jupyter?.close();
  });

  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = ALICE) =>
    call(gateway.port, method, `${base}${path}`, {
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
    });

  /** Waits (up to 5 s: the server's log comes through a pipe) until the server's log matches. */
  const logShows = async (re: RegExp) => {
    const deadline = Date.now() + 5000;
    while (!re.test(jupyter.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(jupyter.log(), re);
  };

  /** Creates a kernel through JKG (the client claims to be mallory) and returns its id. */
  const createKernel = async (): Promise<string> => {
    const r = await request('POST', '/jkg/api/kernels', {
      name: 'python3',
      env: { KERNEL_USERNAME: 'mallory' },
    });
    assert.equal(r.status, 201, r.text);
    const model = JSON.parse(r.text) as { id: string; name: string };
    assert.equal(model.name, 'python3');
    kernels.push(model.id);
    return model.id;
  };

  it('GET jkg/api/kernelspecs lists python3', async () => {
    const r = await request('GET', '/jkg/api/kernelspecs');
    assert.equal(r.status, 200, r.text);
    const specs = JSON.parse(r.text) as { default: string; kernelspecs: Record<string, { name: string }> };
    assert.equal(specs.kernelspecs.python3?.name, 'python3');
    const one = await request('GET', '/jkg/api/kernelspecs/python3');
    assert.equal(one.status, 200, one.text);
    assert.equal(JSON.parse(one.text).spec.language, 'python');
  });

  it('the server itself passes KERNEL_* from the request to the kernel (the control for the next test)', async () => {
    // Straight at the server, not through the gateway: what the client sends is what the kernel gets.
    const created = await fetch(`${jupyter.url}/api/kernels`, {
      method: 'POST',
      body: JSON.stringify({ name: 'python3', env: { KERNEL_USERNAME: 'mallory' } }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    kernels.push(id);
    const session = randomUUID();
    const ws = await openSocket(
      `ws://127.0.0.1:${jupyter.port}/api/kernels/${id}/channels?session_id=${session}`,
      {},
    );
    try {
      const run = await execute(ws, "import os; print(os.environ.get('KERNEL_USERNAME'))", session);
      assert.equal(run.stdout, 'mallory\n');
    } finally {
      await closeSocket(ws);
    }
    assert.equal((await fetch(`${jupyter.url}/api/kernels/${id}`, { method: 'DELETE' })).status, 204);
  });

  it("a kernel created through JKG runs as the gateway's user; 1+1 over JKGWS is 2; DELETE stops it", async () => {
    const id = await createKernel();
    const listed = await request('GET', `/jkg/api/kernels/${id}`);
    assert.equal(listed.status, 200, listed.text);
    assert.equal(JSON.parse(listed.text).id, id);

    // The client's query reaches the server (Knox's WebSocket handler keeps it; JKGWS's rule alone would drop it),
    // after identity assertion removed the client's own doAs and added user.name.
    const session = randomUUID();
    const ws = await openSocket(
      `${wsBase}/api/kernels/${id}/channels?session_id=${session}&doAs=root`,
      ALICE,
    );
    await logShows(
      new RegExp(`101 GET /api/kernels/${id}/channels\\?session_id=${session}&user\\.name=alice \\(`),
    );
    try {
      const who = await execute(ws, "import os; print(os.environ.get('KERNEL_USERNAME'))", session);
      assert.equal(who.status, 'ok');
      assert.equal(who.stdout, 'alice\n');

      const sum = await execute(ws, '1+1', session);
      assert.equal(sum.status, 'ok');
      assert.equal(sum.result, '2');
      assert.equal(sum.resultChannel, 'iopub');
    } finally {
      await closeSocket(ws);
    }

    const deleted = await request('DELETE', `/jkg/api/kernels/${id}`);
    assert.equal(deleted.status, 204, deleted.text);
    const gone = await fetch(`${jupyter.url}/api/kernels/${id}`);
    assert.equal(gone.status, 404);
    kernels.splice(kernels.indexOf(id), 1);
  });

  it('the channels WebSocket without a query string reaches the kernel too', async () => {
    // JKGWS's first channels route (`/jkgws/api/kernels/**/channels`, its `inboundrule`).
    const id = await createKernel();
    const ws = await openSocket(`${wsBase}/api/kernels/${id}/channels`, ALICE);
    try {
      const sum = await execute(ws, '6*7', randomUUID());
      assert.equal(sum.result, '42');
    } finally {
      await closeSocket(ws);
    }
    assert.equal((await request('DELETE', `/jkg/api/kernels/${id}`)).status, 204);
    kernels.splice(kernels.indexOf(id), 1);
  });

  it('a client without the HeaderPreAuth header gets 401, on HTTP and on the upgrade, and nothing reaches the server', async () => {
    const id = await createKernel();
    const probe = randomUUID();
    const before = await (await fetch(`${jupyter.url}/api/kernels`)).json();

    const specs = await request('GET', `/jkg/api/kernelspecs?probe=${probe}`, undefined, {});
    assert.equal(specs.status, 401, specs.text);
    const created = await request('POST', '/jkg/api/kernels', { name: 'python3' }, {});
    assert.equal(created.status, 401, created.text);
    const deleted = await request('DELETE', `/jkg/api/kernels/${id}`, undefined, {});
    assert.equal(deleted.status, 401, deleted.text);
    await assert.rejects(openSocket(`${wsBase}/api/kernels/${id}/channels?session_id=${probe}`, {}), {
      status: 401,
    });

    // The server's kernels are as they were (no kernel made, none deleted, no channel opened) and its request
    // log never saw the probe; the same probe sent by alice is logged, so the log would show it.
    assert.deepEqual(
      (
        (await (await fetch(`${jupyter.url}/api/kernels`)).json()) as { id: string; connections: number }[]
      ).map((k) => [k.id, k.connections]),
      (before as { id: string; connections: number }[]).map((k) => [k.id, k.connections]),
    );
    assert.ok(!jupyter.log().includes(probe), 'an unauthenticated request reached the server');
    const control = await request('GET', `/jkg/api/kernelspecs?probe=${probe}`);
    assert.equal(control.status, 200);
    await logShows(new RegExp(`GET /api/kernelspecs\\?probe=${probe}`));

    assert.equal((await request('DELETE', `/jkg/api/kernels/${id}`)).status, 204);
    kernels.splice(kernels.indexOf(id), 1);
  });
});
