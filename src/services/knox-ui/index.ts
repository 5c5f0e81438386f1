/**
 * @module services/knox-ui
 * The small Jersey services Knox's home page and manager topologies name, answered by the gateway after the
 * topology's chain (bundled definitions services/knox-session, services/knoxssout, services/knox-metadata), each
 * as Knox's resource does:
 *
 * | role | Knox resource | route | answer |
 * |---|---|---|---|
 * | KNOX-SESSION | `SessionResource` | `GET session/api/v1/sessioninfo` | `{"sessioninfo":{"user","canSeeAllTokens","bannerText"}}` (logout URLs only with Knox's `knox.homepage.logout.enabled`, which postern does not read yet) |
 * | KNOXSSOUT | `WebSSOutResource` | `GET`/`POST knoxssout/api/v1/webssout` | expires the KnoxSSO cookie (`knoxsso.cookie.name`, `hadoop-jwt`; Path `/`, Domain as Knox's `Urls.getDomainName`) and answers `{ "loggedOut" : true }` |
 * | KNOX-METADATA | `KnoxMetadataResource` | `GET api/v1/metadata/info` | `{"generalProxyInfo":{"version","hostname","adminUiUrl","webShellUrl","adminApiBookUrl","enableTokenManagement","enableWebshell","truststoreType"}}` |
 *
 * KNOX-METADATA's `topologies`, `profiles/{profile}` and `publicCert` are in metadata.ts.
 *
 * Not done: the session's token-management fields.
 */
import { hostname } from 'node:os';
import { Errors } from '../../errors.ts';
import type { DispatchContext, Exchange, Handler, ServiceFactory } from '../../spi/index.ts';
import { noGateway } from '../admin/common.ts';
import { cookieDomain } from '../knoxsso/index.ts';
import { profileJson, sendPublicCert, topologiesJson } from './metadata.ts';

const KNOX = 'org.apache.knox.gateway.service.';

function sendJson(ex: Exchange, body: string, headers: Record<string, string | string[]> = {}): void {
  ex.res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}

function only(ex: Exchange, path: string, methods: readonly string[]): void {
  ex.req.resume();
  if (ex.path.replace(/\/+$/, '') !== path) throw Errors.notFound();
  if (!methods.includes(ex.req.method ?? '')) {
    throw Errors.methodNotAllowed(`Use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
}

export const knoxSessionService: ServiceFactory = {
  name: 'KnoxSession',
  roles: ['KNOX-SESSION'],
  classNames: [`${KNOX}session.SessionResource`],
  create(): Handler {
    return async (ex) => {
      only(ex, '/session/api/v1/sessioninfo', ['GET', 'HEAD']);
      const user = ex.effectiveUser ?? ex.user?.name;
      // MOXy leaves out what is null (no logout URLs unless the home page logout is on; no KnoxSSO token id).
      sendJson(ex, JSON.stringify({ sessioninfo: { user, canSeeAllTokens: false, bannerText: '' } }));
    };
  },
};

export const knoxSsoutService: ServiceFactory = {
  name: 'KnoxSSOut',
  roles: ['KNOXSSOUT'],
  classNames: [`${KNOX}knoxsso.WebSSOutResource`],
  create(ctx: DispatchContext): Handler {
    const cookieName = ctx.params.get('knoxsso.cookie.name')?.trim() || 'hadoop-jwt';
    return async (ex) => {
      only(ex, '/knoxssout/api/v1/webssout', ['GET', 'POST']);
      const domain = cookieDomain(new URL(ex.inboundUrl).hostname, undefined);
      const cookie = [`${cookieName}=`, 'Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'Path=/'];
      if (domain) cookie.push(`Domain=${domain}`);
      sendJson(ex, '{ "loggedOut" : true }', { 'set-cookie': cookie.join('; ') });
    };
  },
};

export const knoxMetadataService: ServiceFactory = {
  name: 'KnoxMetadata',
  roles: ['KNOX-METADATA'],
  classNames: [`${KNOX}metadata.KnoxMetadataResource`],
  create(ctx: DispatchContext): Handler {
    const gateway = ctx.gateway;
    return async (ex) => {
      if (!gateway) throw noGateway();
      const path = ex.path.replace(/\/+$/, '');
      const topologies = /^\/api\/v1\/metadata\/topologies(?:\/([^/]+))?$/.exec(path);
      const profile = /^\/api\/v1\/metadata\/profiles\/([^/]+)$/.exec(path);
      if (topologies) {
        only(ex, path, ['GET', 'HEAD']);
        return sendJson(ex, topologiesJson(ex, gateway, topologies[1] && decodeURIComponent(topologies[1])));
      }
      if (profile) {
        only(ex, path, ['GET', 'HEAD']);
        return sendJson(ex, profileJson(gateway, decodeURIComponent(profile[1])));
      }
      if (path === '/api/v1/metadata/publicCert') {
        only(ex, path, ['GET', 'HEAD']);
        return sendPublicCert(ex);
      }
      only(ex, '/api/v1/metadata/info', ['GET', 'HEAD']);
      const { version, hash } = gateway.build;
      const base = `${new URL(ex.inboundUrl).origin}/${gateway.settings.path}`;
      sendJson(
        ex,
        JSON.stringify({
          generalProxyInfo: {
            version: `${version} (hash=${hash})`,
            hostname: hostname(),
            adminUiUrl: `${base}/manager/admin-ui/`,
            webShellUrl: `${base}/homepage/webshell-ui/index.html`,
            adminApiBookUrl: `https://knox.apache.org/books/knox-${version.replace(/-SNAPSHOT$/, '').replaceAll('.', '-')}/user-guide.html#Admin+API`,
            enableTokenManagement: 'false',
            enableWebshell: 'false',
            truststoreType: 'jks',
          },
        }),
      );
    };
  },
};
