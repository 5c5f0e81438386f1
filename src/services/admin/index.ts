/**
 * @module services/admin
 * The bundled ADMIN service (services/admin/1.0.0), answered by the gateway itself after the topology's chain:
 * the admin API (api.ts), the web console (console.ts and its static files in console/) and the console's live
 * feed (feed.ts). Its definition names it as its dispatch, `Admin`.
 *
 * CSRF: every call but GET, HEAD and OPTIONS must carry the header `admin.csrf.header` (default `X-XSRF-Header`,
 * WebAppSec's) with any value — a cross-site form cannot send it — whether or not the topology enables WebAppSec.
 */
import { Errors } from '../../errors.ts';
import type { DispatchContext, Handler, ServiceFactory } from '../../spi/index.ts';
import { answerApi, configOf } from './api.ts';
import { noGateway } from './common.ts';
import { consoleFiles, serveConsole } from './console.ts';
import { adminErrorPage } from './error-page.ts';
import { createFeed, feedLogOf } from './feed.ts';
import { leaks } from './leaks.ts';
import { traffic } from './traffic.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const adminService: ServiceFactory = {
  name: 'Admin',
  roles: ['ADMIN'],
  classNames: ['postern.admin.AdminDispatch'],
  create(ctx: DispatchContext): Handler {
    const config = configOf(ctx);
    const gateway = ctx.gateway;
    const self = ctx.topology.name;
    const files = ctx.shared('admin:console', consoleFiles);
    // The traffic recorder listens while an ADMIN deployment lives (a redeploy holds it before the old one lets go).
    ctx.shared('admin:traffic', () => {
      ctx.onRetire(traffic.hold());
      // The leak guard's findings (leaks.ts), listened to the same way.
      ctx.onRetire(leaks.hold());
      return true;
    });
    // So does the polled feed's log (feed.ts), for consoles whose WebSocket cannot open.
    ctx.shared('admin:feed-log', () => {
      if (gateway) ctx.onRetire(feedLogOf(gateway).hold());
      return true;
    });
    return async (ex) => {
      if (!gateway) throw noGateway();
      const method = ex.req.method ?? '';
      if (!SAFE_METHODS.has(method) && ex.req.headers[config.csrfHeader] === undefined) {
        ex.req.resume();
        throw Errors.badRequest(`Missing required header ${config.csrfHeader} for CSRF protection`);
      }
      const path = ex.path;
      if (path === '/console' || path.startsWith('/console/')) {
        serveConsole(ex, files, path.slice('/console'.length));
        return;
      }
      return answerApi(ex, gateway, config, self);
    };
  },
  createUpgrade: createFeed,
  errorPage: adminErrorPage,
};
