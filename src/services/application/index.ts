/**
 * @module services/application
 * The `application` dispatch: serves a topology `<application>`'s files (servicedef/application.ts) from its
 * `app/` directory after the route's chain, as Jetty's default servlet serves Knox's exploded application:
 * GET and HEAD only; `index.html` for a directory, which is first redirected to its URL with a `/` (Jetty's
 * welcome-file redirect); ETag, Last-Modified, conditional and range requests, and the content type, by `send`;
 * dot files and anything outside `app/` are not found. Request paths reach it already normalised
 * (gateway/request-target.ts), and `send` refuses a path that would climb out of the root anyway.
 */
import send from 'send';
import { Errors } from '../../errors.ts';
import type { DispatchContext, DispatchFactory, Exchange, Handler } from '../../spi/index.ts';

function required(ctx: DispatchContext, name: string): string {
  const value = ctx.params.get(name);
  if (value === undefined) throw new Error(`the application dispatch needs its "${name}" param`);
  return value;
}

/** The error a `send` failure stands for: the file's absence (any 4xx) or the gateway's fault. */
function sendFailure(err: unknown): Error {
  const status = (err as { status?: number; statusCode?: number }).status ?? 500;
  if (status === 404 || status === 403 || status === 400) return Errors.notFound();
  if (status === 416) return Errors.rangeNotSatisfiable();
  return Errors.internal('The application file could not be read', { cause: err });
}

function serve(ex: Exchange, root: string, mount: string): Promise<void> {
  const method = ex.req.method ?? 'GET';
  ex.req.resume();
  if (method !== 'GET' && method !== 'HEAD') {
    return Promise.reject(Errors.methodNotAllowed('Use GET or HEAD', { headers: { allow: 'GET, HEAD' } }));
  }
  if (ex.path !== mount && !ex.path.startsWith(`${mount}/`)) return Promise.reject(Errors.notFound());
  const inside = ex.path.slice(mount.length);
  const publicPath = ex.rewriteContext.inbound.path;
  const query = ex.rewriteContext.inbound.query;
  const toDirectory = () => {
    const last = publicPath.slice(publicPath.lastIndexOf('/') + 1);
    ex.res.writeHead(302, {
      location: `${last}/${query ? `?${query}` : ''}`,
      'content-length': '0',
      'cache-control': 'no-store',
    });
    ex.res.end();
  };
  if (inside === '') {
    toDirectory();
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const stream = send(ex.req, inside, {
      root,
      index: ['index.html'],
      dotfiles: 'deny',
      // The client's own copy is checked against ETag / Last-Modified on every use.
      maxAge: 0,
    });
    stream.on('error', (err: unknown) => reject(sendFailure(err)));
    stream.on('directory', () => {
      toDirectory();
      resolve();
    });
    stream.on('headers', (res) => res.setHeader('X-Content-Type-Options', 'nosniff'));
    stream.on('end', () => resolve());
    ex.res.on('close', () => resolve());
    stream.pipe(ex.res);
  });
}

export const applicationDispatch: DispatchFactory = {
  name: 'application',
  create(ctx: DispatchContext): Handler {
    const root = required(ctx, 'root');
    const mount = required(ctx, 'mount');
    return (ex) => serve(ex, root, mount);
  },
};
