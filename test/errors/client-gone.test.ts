/**
 * A client that goes away mid-response through a real gateway: the backend exchange is aborted with a
 * ClientGoneError, which the dispatch recognises by its class, so the gateway does not log a backend failure for
 * what was only the client leaving.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Gateway } from '../../src/gateway/gateway.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

describe('a client gone mid-response', () => {
  let home: TestHome;
  let gateway: Gateway;
  let backend: Backend;
  const lines: { msg?: string; level?: number }[] = [];
  let backendClosed: Promise<void>;
  let onBackendClosed: () => void;

  before(async () => {
    backendClosed = new Promise((resolve) => {
      onBackendClosed = resolve;
    });
    backend = await startBackend((req, res) => {
      if (req.url?.startsWith('/fail')) {
        // The backend itself breaks off after the headers: that one is a backend failure, logged.
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('first bytes\n');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first bytes\n');
      // Then nothing more until the gateway gives up on this exchange.
      res.once('close', () => onBackendClosed());
    });
    home = makeHome();
    home.write('conf/topologies/t.xml', topologyXml({ services: [{ role: 'HTTP', urls: [backend.url] }] }));
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log: pino({ level: 'debug' }, sink),
      watch: false,
    });
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    home?.remove();
  });

  /** Reads the first bytes of a response, then (when asked) cuts the connection. */
  function firstBytes(path: string, cut: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${gateway.url}/t/http${path}`, (res) => {
        res.once('data', () => {
          if (!cut) return resolve();
          req.destroy();
          res.once('close', () => resolve());
        });
        res.on('error', () => {});
      });
      req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
    });
  }

  it('aborts the backend exchange without logging a backend failure', async () => {
    await firstBytes('/slow', true);
    await backendClosed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      lines.filter((l) => l.msg === 'backend stream failed'),
      [],
    );
  });

  it('still logs a backend that breaks off on its own (the check above can see the warning)', async () => {
    await firstBytes('/fail', false);
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => l.msg === 'backend stream failed') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(lines.some((l) => l.msg === 'backend stream failed'));
  });
});
