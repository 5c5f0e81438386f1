/**
 * @module demo
 * The sandbox's demo backends: the JSON REST API (`HTTP` role, default `http://127.0.0.1:18080`) and the
 * WebSocket echo (`ECHOWS` role, default `ws://127.0.0.1:18081`), the URLs `conf/topologies/sandbox.xml` names.
 * The gateway starts them when `postern.demo.backends.enabled` is true — on a free port when theirs is in use
 * (another postern runs), and then the gateway points the sample topology's URLs at them (Gateway's
 * `startDemoBackends` aliases) and says so; run this file directly to start them alone
 * (`npx node src/demo/index.ts [restPort] [wsPort]`).
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
  /**
   * When a port is in use (another postern, a second gateway on another `--port`), take a free one instead of
   * failing; {@link DemoBackends.moved} says which. Default false.
   */
  fallback?: boolean;
}

export interface DemoBackends {
  /** `http://host:port` of the REST API. */
  restUrl: string;
  /** `ws://host:port` of the WebSocket echo. */
  wsUrl: string;
  /** Backends that took a free port because theirs was in use: the URL asked for and the one bound. */
  moved: { name: string; from: string; to: string }[];
  /** Stops both backends. */
  close(): Promise<void>;
}

/** Starts a backend on its port, or with `fallback` on a free one when that port is in use. */
async function listenOrMove<T>(
  start: (port: number) => Promise<T>,
  port: number,
  fallback: boolean,
): Promise<{ backend: T; moved: boolean }> {
  try {
    return { backend: await start(port), moved: false };
  } catch (err) {
    if (!fallback || port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return { backend: await start(0), moved: true };
  }
}

/** Starts both demo backends; if the second cannot start, the first is stopped again before the error is thrown. */
export async function startDemoBackends(options: DemoBackendsOptions = {}): Promise<DemoBackends> {
  const host = options.host ?? '127.0.0.1';
  const fallback = options.fallback === true;
  const restPort = options.restPort ?? DEMO_REST_PORT;
  const wsPort = options.wsPort ?? DEMO_WS_PORT;
  const moved: DemoBackends['moved'] = [];
  const restStart = await listenOrMove((port) => startRestApi({ host, port }), restPort, fallback);
  const rest = restStart.backend;
  if (restStart.moved) moved.push({ name: 'REST API', from: `http://${host}:${restPort}`, to: rest.url });
  let ws: Awaited<ReturnType<typeof startWsEcho>>;
  try {
    const wsStart = await listenOrMove((port) => startWsEcho({ host, port }), wsPort, fallback);
    ws = wsStart.backend;
    if (wsStart.moved) moved.push({ name: 'WebSocket echo', from: `ws://${host}:${wsPort}`, to: ws.url });
  } catch (err) {
    await rest.close();
    throw err;
  }
  return {
    restUrl: rest.url,
    wsUrl: ws.url,
    moved,
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
