/**
 * @module bench/floor
 * How the benchmarks start bench/floor-proxy.ts (a bare node:http server and an undici Pool: the floor for any Node
 * proxy): the node arguments and the environment, with postern start's V8 flags and malloc tunables
 * (src/cli/node-flags.ts) when the row runs the floor "as postern start would", so that it and postern differ only
 * in their code.
 */
import { join } from 'node:path';
import { DEFAULT_GLIBC_TUNABLES, DEFAULT_NODE_FLAGS } from '../src/cli/node-flags.ts';

export interface FloorOptions {
  /** The tree whose bench/floor-proxy.ts runs (a repository checkout). */
  tree: string;
  /** The backend's origin, `http(s)://127.0.0.1:PORT`. */
  upstream: string;
  port: number;
  /** postern start's V8 flags and malloc tunables. */
  flags: boolean;
  /** Node flags after those (an `--inspect-port`, more V8 flags). */
  nodeFlags?: string[];
  /** A TLS listener (PEM files), trusting `cert` for an https:// backend too. */
  tls?: { cert: string; key: string };
  /** Relay WebSocket upgrades to this port (bench/ws-backend.ts), joining the sockets by `pipe` or `raw` writes. */
  ws?: { port: number; relay: 'pipe' | 'raw' };
}

export function floorCommand(o: FloorOptions): { argv: string[]; env: Record<string, string> } {
  const argv = [
    ...(o.flags ? DEFAULT_NODE_FLAGS : []),
    ...(o.nodeFlags ?? []),
    join(o.tree, 'bench', 'floor-proxy.ts'),
    ...['--upstream', o.upstream, '--port', String(o.port)],
    ...(o.tls ? ['--tls-cert', o.tls.cert, '--tls-key', o.tls.key, '--ca', o.tls.cert] : []),
    ...(o.ws ? ['--ws-upstream', String(o.ws.port), '--ws-relay', o.ws.relay] : []),
  ];
  return { argv, env: o.flags ? { GLIBC_TUNABLES: DEFAULT_GLIBC_TUNABLES } : {} };
}
