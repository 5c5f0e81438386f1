/**
 * @module dispatch/knox/extend
 * How a Knox dispatch that subclasses DefaultDispatch, ConfigurableDispatch or PassAllHeadersDispatch is built in
 * postern: the plain HTTP dispatch (dispatch/http-dispatch) with the options its Knox subclass overrides, and a
 * per-request step that readies the exchange before it is forwarded (a target edit, a header filter, a body
 * edit). The step may throw the gateway's answer (a GatewayError) to refuse the request.
 */

import type { DispatchContext, DispatchFactory, Exchange } from '../../spi/index.ts';
import type { DescribedHandler, HttpDispatchOptions } from '../http-dispatch.ts';
import { createHttpDispatch } from '../http-dispatch.ts';

export { keepTrailingSlash } from '../trailing-slash.ts';

/** Readies one exchange for the backend; built once per route from the dispatch's context. */
export type Prepare = (ex: Exchange) => void;

export interface KnoxDispatchSpec {
  /** postern's name of the dispatch. */
  readonly name: string;
  /** Knox's fully qualified class names it stands for. */
  readonly classNames: readonly string[];
  /** The plain dispatch it extends, and what it changes there. */
  readonly base: HttpDispatchOptions;
  /** An HA dispatch (Knox's `*HaDispatch`): it fails over between the service's URLs. */
  readonly failover?: boolean;
  /** The per-request step, when the Knox class changes requests. */
  readonly prepare?: (ctx: DispatchContext) => Prepare | undefined;
}

export function knoxDispatch(spec: KnoxDispatchSpec): DispatchFactory {
  const create = createHttpDispatch(spec.base);
  return {
    name: spec.name,
    classNames: spec.classNames,
    failover: spec.failover,
    create(ctx) {
      const prepare = spec.prepare?.(ctx);
      const forward = create(ctx) as DescribedHandler;
      if (!prepare) return forward;
      const run: DescribedHandler = (ex) => {
        try {
          prepare(ex);
        } catch (err) {
          return Promise.reject(err);
        }
        return forward(ex);
      };
      run.requestHeaders = forward.requestHeaders;
      return run;
    },
  };
}

/** The user Knox's dispatches name to a backend: the effective principal (after identity assertion). */
export function effectivePrincipal(ex: Exchange): string | undefined {
  return ex.effectiveUser ?? ex.user?.name;
}

/** The path of an absolute URL (no query or fragment). */
export function urlPath(url: string): string {
  const scheme = url.indexOf('://');
  const slash = url.indexOf('/', scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return '/';
  const end = url.slice(slash).search(/[?#]/);
  return end < 0 ? url.slice(slash) : url.slice(slash, slash + end);
}

/** A path's last segment as a servlet container routes it: without `;` parameters, percent-decoded. */
function lastSegment(path: string): string {
  const segments = path.split('/');
  let last = segments.pop() ?? '';
  if (last === '' && segments.length > 0) last = segments.pop() ?? '';
  const semi = last.indexOf(';');
  if (semi >= 0) last = last.slice(0, semi);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * Knox's endpoint test (`requestURI.endsWith(endpoint) || endsWith(endpoint + "/")`) for an endpoint of one
 * segment, such as `/sessions`. It is applied to the path the client sent and to the path the backend will be
 * sent, each read as a servlet container reads it: `/sessions;x` and `/session%73` are the endpoint a Jetty
 * backend routes, though Knox's text comparison misses them.
 */
export function isEndpoint(ex: Exchange, endpoints: readonly string[]): boolean {
  const names = endpoints.map((e) => e.replace(/^\//, ''));
  const paths = [ex.path];
  if (ex.target !== undefined) paths.push(urlPath(ex.target));
  return paths.some((p) => names.includes(lastSegment(p)));
}
