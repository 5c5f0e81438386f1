/**
 * @module dispatch/federation-dispatch
 * Knox's `HeaderPreAuthFederationDispatch`: federation from this gateway to another
 * one. The user authenticated here (by any provider, then mapped by identity assertion) is named to the other
 * gateway in the header `gateway.custom.federation.header.name` (default `SM_USER`); the other gateway believes it
 * through its `HeaderPreAuth` provider, whose `preauth.custom.header` must be the same name.
 *
 * Otherwise it is ConfigurableDispatch (its params, its header rules), and WebSocket upgrades on its routes carry
 * the header too. With `use-two-way-ssl` on the service's dispatch (or the `useTwoWaySsl` param) the gateway
 * presents its own certificate to the other gateway (dispatch/backend-tls.ts), which is what lets that gateway
 * tell this one from any other caller: the header alone proves nothing.
 *
 * The name sent is the effective user (after identity assertion), as Knox sends the request's user principal,
 * which its identity-assertion wrapper has already mapped. Unlike Knox, which adds its header to whatever the
 * client sent, every copy of the header the client sent (in any letter case) is removed first: a client cannot
 * name a user of its choice to the other gateway. A request with no authenticated user is sent without the
 * header (the other gateway then answers 401).
 *
 * Deployment warnings: a service URL that is not https (the identity would travel in clear), and a service without
 * two-way TLS.
 */
import { Errors } from '../errors.ts';
import {
  addTo,
  type DispatchContext,
  type DispatchFactory,
  type Exchange,
  type Handler,
} from '../spi/index.ts';
import { createWebSocketHandler } from '../websocket/ws-dispatch.ts';
import { configurableDispatch } from './http-dispatch.ts';

const KNOX_CLASS = 'org.apache.knox.gateway.dispatch.HeaderPreAuthFederationDispatch';

/** HTTP header names are tokens (RFC 9110 §5.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A user name that can be a header value: no control characters. */
const HEADER_VALUE = /^[^\u0000-\u001f\u007f]+$/;

/** Adds the identity header to an exchange's backend request, after removing the client's copies. */
type Stamp = (ex: Exchange) => void;

function federationStamp(ctx: DispatchContext, warn: boolean): Stamp {
  const header = ctx.settings.customFederationHeaderName;
  if (!TOKEN.test(header)) {
    throw new Error(`gateway.custom.federation.header.name: "${header}" is not a header name`);
  }
  if (warn) {
    for (const { url, pos } of ctx.service.urls) {
      if (!/^(https|wss):/i.test(url)) {
        ctx.sink.warn(
          pos,
          `${ctx.name}: ${ctx.service.role} url is not https: the federated identity (${header}) would travel in clear`,
        );
      }
    }
    if (!ctx.useTwoWaySsl) {
      ctx.sink.warn(
        ctx.pos,
        `${ctx.name}: service ${ctx.service.role} has no use-two-way-ssl: the other gateway cannot tell this gateway's requests from anyone else's`,
      );
    }
  }
  const key = header.toLowerCase();
  return (ex) => {
    const user = ex.effectiveUser ?? ex.user?.name;
    if (user !== undefined && !HEADER_VALUE.test(user)) {
      throw Errors.forbidden('The user name cannot be sent to the federated gateway');
    }
    // Last of the request-header filters (the dispatch adds it after every provider ran): what it writes is final.
    addTo(ex, 'requestHeaderFilters', (headers) => {
      for (const name of Object.keys(headers)) if (name.toLowerCase() === key) delete headers[name];
      if (user !== undefined) headers[key] = user;
      return headers;
    });
  };
}

export const headerPreAuthFederationDispatch: DispatchFactory = {
  name: 'header-preauth-federation',
  classNames: [KNOX_CLASS],
  create(ctx: DispatchContext): Handler {
    const stamp = federationStamp(ctx, true);
    const forward = configurableDispatch.create(ctx);
    return (ex) => {
      try {
        stamp(ex);
      } catch (err) {
        return Promise.reject(err);
      }
      return forward(ex);
    };
  },
  createUpgrade(ctx: DispatchContext): Handler {
    const stamp = federationStamp(ctx, false);
    const relay = createWebSocketHandler(ctx);
    return (ex) => {
      try {
        stamp(ex);
      } catch (err) {
        return Promise.reject(err);
      }
      return relay(ex);
    };
  },
};
