/**
 * @module dispatch/knox/sse
 * Knox's SSEDispatch (gateway-spi, `org.apache.knox.gateway.sse`) and SSEHaDispatch (gateway-provider-ha):
 * ConfigurableDispatch for Server-Sent Events. The backend request says `Accept: text/event-stream`; the answer
 * is written to the client as each chunk arrives, with no timeout between two events (Knox's async client and
 * an async context with timeout 0). postern's dispatch never buffers a body it does not rewrite, so the part to
 * add is this one: no response body rewrite (Knox's SSE consumer writes events straight through) and no body
 * timeout on the backend connection. Knox answers 500 when its async support is off; postern needs no such
 * switch.
 */
import { knoxDispatch, type Prepare } from './extend.ts';

const prepare = (): Prepare => (ex) => {
  ex.responseBody = undefined;
  const accept = (headers: Record<string, string | string[] | undefined>) => {
    headers.accept = 'text/event-stream';
    return headers;
  };
  ex.requestHeaderFilters = [...(ex.requestHeaderFilters ?? []), accept];
};

export const sseDispatch = knoxDispatch({
  name: 'sse',
  classNames: ['org.apache.knox.gateway.sse.SSEDispatch'],
  base: { variant: 'configurable', streaming: true },
  prepare,
});

export const sseHaDispatch = knoxDispatch({
  name: 'sse-ha',
  classNames: ['org.apache.knox.gateway.ha.dispatch.SSEHaDispatch'],
  base: { variant: 'configurable', streaming: true },
  failover: true,
  prepare,
});
