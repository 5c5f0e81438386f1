/**
 * @module providers/webappsec/feature
 * What each WebAppSec feature module builds: a synchronous per-request step. It lets the request go on
 * (`undefined`), answers it itself (`'answered'`, a CORS preflight), or refuses it with a gateway error and a
 * reason for the audit trail. The provider (./index.ts) runs the enabled features in order.
 */
import type { GatewayError } from '../../errors.ts';
import type { Exchange, HeaderMap } from '../../spi/index.ts';

export interface Refusal {
  error: GatewayError;
  /** A few words for the audit event (`csrf header missing`, `cors origin`, `rate limit`). */
  reason: string;
}

export type Verdict = undefined | 'answered' | Refusal;

export interface Feature {
  readonly name: string;
  /** A promise only when the feature asks something outside the process (the workers' shared rate limit). */
  run(ex: Exchange): Verdict | Promise<Verdict>;
}

/** A WebSocket upgrade request (the server routes only these through a chain as upgrades). */
export function isUpgrade(ex: Exchange): boolean {
  const upgrade = ex.req.headers.upgrade;
  return typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket';
}

/** The gateway's own origin as this request reached it (`https://host:port`), lower-cased. */
export function ownOrigin(ex: Exchange): string | undefined {
  const host = ex.req.headers.host;
  if (!host) return undefined;
  return `${ex.rewriteContext.inbound.scheme}://${host}`.toLowerCase();
}

/** Deletes the named headers (any case) from a backend response header map. */
export function deleteHeaders(headers: HeaderMap, names: ReadonlySet<string>): void {
  for (const key of Object.keys(headers)) if (names.has(key.toLowerCase())) delete headers[key];
}
