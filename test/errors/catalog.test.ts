/**
 * The error catalog (src/errors.ts): every client-facing error has one body shape, written by gateway/respond.ts;
 * nothing outside the catalog makes an error code or closes a WebSocket with a bare number; a client that went
 * away is told apart by its class, not its message; the one body reader refuses what is over its limit.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  Catalog,
  ClientGoneError,
  CloseCodes,
  type ErrorName,
  Errors,
  type GatewayError,
  isClientGone,
} from '../../src/errors.ts';
import { readBody, readText } from '../../src/gateway/read-body.ts';
import { errorBody, sendError } from '../../src/gateway/respond.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Serves one handler on loopback for the duration of `run`. */
async function serving(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('the error catalog', () => {
  const names = Object.keys(Catalog) as ErrorName[];

  it('has a unique POSTERN_ERR_ code and an error status for every entry', () => {
    const codes = names.map((n) => Catalog[n].code);
    assert.equal(new Set(codes).size, codes.length, 'codes are unique');
    for (const name of names) {
      const { code, status, message } = Catalog[name];
      assert.match(code, /^POSTERN_ERR_[A-Z_]+$/, name);
      assert.ok(status >= 400 && status < 600, `${name}: ${status}`);
      assert.ok(message.length > 0, name);
    }
  });

  it('writes every error in the one shape, over a real connection', async () => {
    let next: GatewayError = Errors.internal();
    await serving(
      (_req, res) => sendError(res, 'req-1', next),
      async (url) => {
        for (const name of names) {
          next = Errors[name]();
          const res = await fetch(url);
          assert.equal(res.status, Catalog[name].status, name);
          assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
          assert.equal(res.headers.get('x-request-id'), 'req-1');
          assert.deepEqual(await res.json(), {
            error: {
              status: Catalog[name].status,
              code: Catalog[name].code,
              message: Catalog[name].message,
              requestId: 'req-1',
            },
          });
        }
        next = Errors.invalidTopology('the topology does not deploy', {
          details: { deployed: false, diagnostics: [{ at: 'a.xml:1:1' }], error: 'not this' },
        });
        const res = await fetch(url);
        assert.equal(res.status, 400);
        assert.deepEqual(await res.json(), {
          deployed: false,
          diagnostics: [{ at: 'a.xml:1:1' }],
          error: {
            status: 400,
            code: 'POSTERN_ERR_INVALID_TOPOLOGY',
            message: 'the topology does not deploy',
            requestId: 'req-1',
          },
        });
      },
    );
  });

  it('keeps a message and headers given, and relays another status only when asked', () => {
    const e = Errors.methodNotAllowed('Use GET', { headers: { allow: 'GET' } });
    assert.equal(e.message, 'Use GET');
    assert.deepEqual(e.headers, { allow: 'GET' });
    assert.equal(Errors.upstreamRefusedUpgrade(undefined, { status: 401 }).status, 401);
    assert.equal(errorBody('r', Errors.conflict()).error.status, 409);
  });

  it('is the only place that makes an error code: no module builds a GatewayError or names a code itself', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file);
      if (rel === 'errors.ts') continue;
      const text = readFileSync(file, 'utf8');
      if (/new GatewayError\(/.test(text)) offenders.push(`${rel}: new GatewayError(`);
      // ConfigError's code names a configuration problem for the CLI, never an answer to a client.
      const codes = [...text.matchAll(/'POSTERN_ERR_[A-Z_]*'/g)].map((m) => m[0]);
      const clientFacing = codes.filter((c) => c !== "'POSTERN_ERR_CONFIG'");
      if (clientFacing.length > 0) offenders.push(`${rel}: ${clientFacing.join(', ')}`);
    }
    assert.deepEqual(offenders, []);
  });
});

describe('WebSocket close codes', () => {
  it('are named, distinct, and each one a code that may be sent in a close frame (RFC 6455 §7.4)', () => {
    const values = Object.values(CloseCodes) as number[];
    assert.equal(new Set(values).size, values.length);
    for (const code of values) {
      const standard = code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code);
      assert.ok(standard || (code >= 4000 && code <= 4999), String(code));
    }
    assert.equal(CloseCodes.slowConsumer, 4008);
    assert.equal(CloseCodes.goingAway, 1001);
  });

  it('are never written as bare numbers in src/', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\.close\(\s*(\d{4})\b/g))
        offenders.push(`${relative(SRC, file)}: ${m[0]}`);
    }
    assert.deepEqual(offenders, []);
  });
});

describe('a client that went away', () => {
  it('is recognised by its class or code, never by a message that looks the same', () => {
    const gone = new ClientGoneError();
    assert.equal(isClientGone(gone), true);
    assert.equal(isClientGone({ code: ClientGoneError.CODE }), true);
    assert.equal(isClientGone(new Error(gone.message)), false);
    assert.equal(isClientGone(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), false);
    assert.equal(isClientGone(undefined), false);
  });
});

describe('readBody', () => {
  async function post(
    url: string,
    body: string,
    chunked: boolean,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      if (chunked) {
        // No content-length: the limit must be found while reading.
        req.setHeader('transfer-encoding', 'chunked');
        for (let i = 0; i < body.length; i += 4) req.write(body.slice(i, i + 4));
        req.end();
      } else req.end(body);
    });
  }

  it('gives the body up to its limit and refuses one over it with 413, declared or streamed', async () => {
    await serving(
      (req, res) => {
        readText(req, 10).then(
          (text) => res.end(`got ${text}`),
          (err: GatewayError) => sendError(res, 'r', err),
        );
      },
      async (url) => {
        assert.deepEqual(await post(url, '0123456789', false), { status: 200, text: 'got 0123456789' });
        assert.deepEqual(await post(url, '0123456789', true), { status: 200, text: 'got 0123456789' });
        for (const chunked of [false, true]) {
          const over = await post(url, '0123456789abc', chunked);
          assert.equal(over.status, 413);
          assert.equal(JSON.parse(over.text).error.code, 'POSTERN_ERR_PAYLOAD_TOO_LARGE');
        }
      },
    );
    await serving(
      (req, res) => {
        readBody(req, 100).then((bytes) => res.end(String(bytes.length)));
      },
      async (url) => {
        assert.deepEqual(await post(url, 'é', false), { status: 200, text: '2' });
      },
    );
  });
});
