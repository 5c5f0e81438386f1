/**
 * @module demo
 * The sandbox's demo backends: the JSON REST API (`HTTP` role, default `http://127.0.0.1:18080`) and the
 * WebSocket echo (`ECHOWS` role, default `ws://127.0.0.1:18081`), the URLs `conf/topologies/sandbox.xml` names.
 * The gateway starts them when `postern.demo.backends.enabled` is true; run this file directly to start them
 * alone (`npx node src/demo/index.ts [restPort] [wsPort]`).
 */
import { startRestApi } from './rest-api.ts';
import { startWsEcho } from './ws-echo.ts';

export { type RestApiOptions, type RunningBackend, startRestApi } from './rest-api.ts';
export { startWsEcho, type WsEchoOptions } from './ws-echo.ts';

/** Ports the sample topology expects. */
export const DEMO_REST_PORT = 18080;
export const DEMO_WS_PORT = 18081;

export interface DemoBackendsOptions {
  /** Default `127.0.0.1`: the demo backends are for this machine only. */
  host?: string;
  /** Default 18080; 0 picks a free port. */
  restPort?: number;
  /** Default 18081; 0 picks a free port. */
  wsPort?: number;
}

export interface DemoBackends {
  /** `http://host:port` of the REST API. */
  restUrl: string;
  /** `ws://host:port` of the WebSocket echo. */
  wsUrl: string;
  /** Stops both backends. */
  close(): Promise<void>;
}

/** Starts both demo backends; if the second cannot start, the first is stopped again before the error is thrown. */
export async function startDemoBackends(options: DemoBackendsOptions = {}): Promise<DemoBackends> {
  const host = options.host ?? '127.0.0.1';
  const rest = await startRestApi({ host, port: options.restPort ?? DEMO_REST_PORT });
  let ws: Awaited<ReturnType<typeof startWsEcho>>;
  try {
    ws = await startWsEcho({ host, port: options.wsPort ?? DEMO_WS_PORT });
  } catch (err) {
    await rest.close();
    throw err;
  }
  return {
    restUrl: rest.url,
    wsUrl: ws.url,
    close: async () => {
      await Promise.all([rest.close(), ws.close()]);
    },
  };
}

if (import.meta.main) {
  const [restArg, wsArg] = process.argv.slice(2);
  const backends = await startDemoBackends({
    restPort: restArg === undefined ? undefined : Number(restArg),
    wsPort: wsArg === undefined ? undefined : Number(wsArg),
  });
  console.log(`demo REST API on ${backends.restUrl}, WebSocket echo on ${backends.wsUrl} (Ctrl-C stops)`);
  const stop = () => {
    backends.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
