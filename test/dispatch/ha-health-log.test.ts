/**
 * The README's HA example (`healthCheckPath=/health`) against the real demo REST API keeps the healthy backend up,
 * and every change of a backend's health is a line of gateway.log: down (with why) and back up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type RunningBackend, startRestApi } from '../../src/demo/index.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';

const HA = (extra = '') => ({
  role: 'ha',
  name: 'HaProvider',
  params: {
    HTTP: `enableLoadBalancing=true;enableStickySession=true;healthCheckPath=/health;healthCheckInterval=100${extra}`,
  },
});

describe('HA health checks and the log', () => {
  let home: TestHome;
  let gateway: Gateway;
  let log: Logger;
  let demo: RunningBackend;
  let flaky: Server;
  let flakyUrl: string;
  let healthy = false;

  const lines = () => {
    log.flush();
    return readFileSync(join(home.dir, 'logs/gateway.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type?: string; url?: string; state?: string; msg: string });
  };
  const eventually = async (check: () => boolean, what: string) => {
    for (let i = 0; i < 200; i++) {
      if (check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`never: ${what}`);
  };

  before(async () => {
    demo = await startRestApi({ port: 0 });
    flaky = createServer((req, res) => {
      res.statusCode = req.url === '/health' && !healthy ? 503 : 200;
      res.end('{}');
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    flakyUrl = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    home = makeHome();
    home.write(
      'conf/topologies/ha.xml',
      topologyXml({
        providers: [
          { role: 'authentication', name: 'Anonymous' },
          { role: 'identity-assertion', name: 'Default' },
          HA(),
        ],
        services: [{ role: 'HTTP', urls: [demo.url, flakyUrl] }],
      }),
    );
    log = createLogger({ logDir: join(home.dir, 'logs'), stdout: false, level: 'info' });
    gateway = await Gateway.start({ home: home.dir, port: 0, host: '127.0.0.1', log, watch: false });
  });

  after(async () => {
    await gateway?.close();
    await demo?.close();
    flaky?.close();
    home?.remove();
  });

  it('logs a backend going down and coming back; the demo backend answers /health and stays up', async () => {
    await eventually(
      () => lines().some((l) => l.type === 'backend-health' && l.url === flakyUrl && l.state === 'down'),
      'the failing backend is logged down',
    );
    const down = lines().find((l) => l.type === 'backend-health' && l.state === 'down')!;
    assert.match(down.msg, new RegExp(`^ha/HTTP backend ${flakyUrl} is down: .*\\(health check\\)$`));
    healthy = true;
    await eventually(
      () => lines().some((l) => l.type === 'backend-health' && l.url === flakyUrl && l.state === 'up'),
      'the backend is logged up again',
    );
    // Several check rounds later, the demo backend was never reported down.
    assert.equal(lines().filter((l) => l.type === 'backend-health' && l.url === demo.url).length, 0);
    const res = await request(`${gateway.url}/ha/http/items`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
  });
});
