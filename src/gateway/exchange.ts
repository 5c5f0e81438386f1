/**
 * @module gateway/exchange
 * The per-request {@link Exchange}, as a class: every request gets an object of the same shape (optional
 * fields declared up front), and the per-request child logger is made only when something logs. An object
 * literal with its own getter would give V8 a new hidden class per request, which then lives on in the heap.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IpMatcher } from '../config/ip-list.ts';
import type { Logger } from '../observability/logger.ts';
import type { RewriteContext } from '../rewrite/index.ts';
import type {
  AuthMethod,
  BodyRewrite,
  Exchange,
  HeaderFilter,
  Principal,
  UpgradeRequest,
} from '../spi/index.ts';
import { forwardedClientAddress } from './client-address.ts';

export class GatewayExchange implements Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly clientAddress: string | undefined;
  readonly peerAddress: string | undefined;
  readonly inboundUrl: string;
  readonly path: string;
  readonly query: string;
  readonly rewriteContext: RewriteContext;
  readonly upgrade: UpgradeRequest | undefined;
  target: string | undefined = undefined;
  targetEdits: ((url: string) => string)[] | undefined = undefined;
  onClientClose: (() => void) | undefined = undefined;
  user: Principal | undefined = undefined;
  authMethod: AuthMethod | undefined = undefined;
  credentialExpiresAt: number | undefined = undefined;
  effectiveUser: string | undefined = undefined;
  effectiveGroups: readonly string[] | undefined = undefined;
  addRequestHeaders: [string, string][] | undefined = undefined;
  responseHeaderFilters: HeaderFilter[] | undefined = undefined;
  requestHeaderFilters: HeaderFilter[] | undefined = undefined;
  responseBody: BodyRewrite | undefined = undefined;
  requestBody: BodyRewrite | undefined = undefined;
  /** Set when a tracer listens (observability/events.ts): the trace id, in this request's log lines. */
  traceId: string | undefined = undefined;
  readonly #parentLog: Logger;
  #log: Logger | undefined = undefined;

  constructor(init: {
    req: IncomingMessage;
    res: ServerResponse;
    id: string;
    log: Logger;
    inboundUrl: string;
    path: string;
    query: string;
    rewriteContext: RewriteContext;
    upgrade?: UpgradeRequest;
    trustedProxies: IpMatcher;
  }) {
    this.req = init.req;
    this.res = init.res;
    this.id = init.id;
    this.peerAddress = init.req.socket?.remoteAddress;
    this.clientAddress = forwardedClientAddress(
      this.peerAddress,
      init.req.headers['x-forwarded-for'],
      init.trustedProxies,
    );
    this.#parentLog = init.log;
    this.inboundUrl = init.inboundUrl;
    this.path = init.path;
    this.query = init.query;
    this.rewriteContext = init.rewriteContext;
    this.upgrade = init.upgrade;
  }

  /** A child logger carrying the request id (and trace id), made on first use: most requests log only their access line. */
  get log(): Logger {
    if (!this.#log) {
      this.#log = this.#parentLog.child(
        this.traceId === undefined ? { reqId: this.id } : { reqId: this.id, traceId: this.traceId },
      );
    }
    return this.#log;
  }
}
