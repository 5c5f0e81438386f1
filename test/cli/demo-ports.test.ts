/**
 * `postern start` on the sample home while the demo backends' ports (18080, 18081) are taken (another postern, a
 * second gateway on `--port 8444`): the demo backends take free ports, say so, and the sandbox topology's URLs
 * follow them, so the sample still answers.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { DEMO_REST_PORT, DEMO_WS_PORT } from '../../src/demo/index.ts';
import { type PosternProcess, startPostern } from '../helpers/postern-process.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Holds the port, unless something else already does (then it is taken all the same). */
async function occupy(port: number): Promise<Server | undefined> {
  const s = createServer((_req, res) => res.end('not the demo'));
  return new Promise((resolve) => {
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('demo backends on taken ports', () => {
  let home: string;
  let blockers: (Server | undefined)[];
  let postern: PosternProcess;
  const agent = new Agent({ connect: { rejectUnauthorized: false } });

  before(async () => {
    blockers = [await occupy(DEMO_REST_PORT), await occupy(DEMO_WS_PORT)];
    home = mkdtempSync(join(tmpdir(), 'postern-demo-ports-'));
    cpSync(join(REPO, 'conf'), join(home, 'conf'), { recursive: true });
    postern = await startPostern(home);
  });

  after(async () => {
    await postern?.stop();
    for (const b of blockers) b?.close();
    await agent.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('start anyway on free ports, say so, and the sandbox reaches them', async () => {
    const out = postern.output();
    assert.match(
      out,
      new RegExp(`demo REST API on http://127\\.0\\.0\\.1:\\d+ \\(${DEMO_REST_PORT} is in use\\)`),
    );
    assert.match(
      out,
      new RegExp(`WebSocket echo on ws://127\\.0\\.0\\.1:\\d+ \\(${DEMO_WS_PORT} is in use\\)`),
    );
    const res = await request(`${postern.url}/sandbox/http/items`, {
      dispatcher: agent,
      headers: { authorization: `Basic ${Buffer.from('guest:guest-password').toString('base64')}` },
    });
    const body = (await res.body.json()) as { items?: unknown[] };
    assert.equal(res.statusCode, 200);
    assert.ok(Array.isArray(body.items));
  });
});
