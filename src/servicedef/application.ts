/**
 * @module servicedef/application
 * A topology's `<application>`, as Knox deploys it (ApplicationDeploymentContributor, GatewayServer's
 * `internalDeployApplication`): the directory `{name}/` of an applications directory holds the web content in
 * `app/`, and optionally a `service.xml` (routes and policies, relative to where the application is mounted) and a
 * `rewrite.xml`. Without a service.xml the routes are Knox's `/?**` and `/**?**`. The application is mounted at
 * each of its `<url>`s below the topology, or at `/{name}` when it has none. Its routes run the topology's
 * providers its policies name, except `rewrite` (see {@link withoutRewrite}).
 *
 * The directories searched, first match wins: the home's `data/applications` (Knox's `gateway.applications.dir`
 * default, `{data}/applications`), then postern's bundled `applications/`. postern serves the content itself
 * (the `application` dispatch, services/application): static files only, where Knox runs a web application —
 * an `app.war` is not unpacked for you, and JSPs do not run.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type DiagnosticSink } from '../config/diagnostics.ts';
import type { ApplicationConfig } from '../topology/model.ts';
import type { PolicyDef, RouteDef, ServiceDefinition } from './model.ts';
import { emptyRewriteRules, readRewriteXml } from './rewrite-xml.ts';
import { parseServiceXml } from './service-xml.ts';

/** The dispatch that serves an application's files (registered by services/application). */
export const APPLICATION_DISPATCH = 'application';

/** An application ready to deploy as a service of its topology. */
export interface LoadedApplication {
  /** The role its routes are reported under: the service.xml's, else the `<application>`'s role, else its name. */
  readonly role: string;
  readonly definition: ServiceDefinition;
}

/**
 * The policies an application's routes run: Knox's (ApplicationDeploymentContributor's default set when its
 * service.xml names none: webappsec, authentication and federation, identity assertion, authorization), without
 * `rewrite` — the files are served as they are, so there is no backend URL to map and nothing to rewrite.
 */
function withoutRewrite(policies: readonly PolicyDef[] | undefined, pos: PolicyDef['pos']): PolicyDef[] {
  const list =
    policies ??
    ['webappsec', 'authentication', 'federation', 'identity-assertion', 'authorization'].map((role) => ({
      role,
      pos,
    }));
  return list.filter((p) => p.role.trim().toLowerCase() !== 'rewrite');
}

/** Knox's routes for an application without a service.xml (ApplicationDeploymentContributor). */
function defaultRoutes(app: ApplicationConfig): RouteDef[] {
  return ['/?**', '/**?**'].map((path) => ({ path, rewrites: [], pos: app.pos }));
}

/** Where the application is mounted: each `<url>`, else `/{name}`. */
function mountsOf(app: ApplicationConfig): string[] {
  return (app.urls.length > 0 ? app.urls.map((u) => u.url) : [app.name]).map(mountOf);
}

/**
 * The routes an application that cannot be served answers its 503 on (Knox's default routes at each mount), when
 * not even its service.xml could be read.
 */
export function failedApplicationRoutes(app: ApplicationConfig): ServiceDefinition {
  return {
    role: app.role ?? app.name,
    name: app.name,
    version: '0.0.0',
    routes: mountsOf(app).flatMap((mount) =>
      defaultRoutes(app).map((route) => ({ ...route, path: `${mount}${route.path}` })),
    ),
    rewrite: { file: '', rules: [], filters: [] },
    dir: '',
    source: 'other',
    pos: app.pos,
  };
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** `/{url}` without trailing slashes: `knoxauth` → `/knoxauth`, `/a/b/` → `/a/b`, `/` → `` (the topology's root). */
function mountOf(url: string): string {
  const trimmed = url.replace(/^\/+|\/+$/g, '');
  return trimmed ? `/${trimmed}` : '';
}

/**
 * Reads the application's directory into a service definition whose routes are mounted at its URLs and whose
 * dispatch serves `app/`; undefined (with the reason reported at the `<application>`) when it cannot be served.
 */
export function loadApplication(
  app: ApplicationConfig,
  dirs: readonly string[],
  sink: DiagnosticSink,
): LoadedApplication | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(app.name) || app.name.startsWith('.')) {
    sink.error(app.pos, `application name "${app.name}" is not a directory name`);
    return undefined;
  }
  const dir = dirs.map((d) => join(d, app.name)).find(isDirectory);
  if (!dir) {
    sink.error(
      app.pos,
      `application "${app.name}" not found: no directory ${app.name}/ in ${dirs.join(' or ')} ` +
        `(postern bundles home, knoxauth and token-management; put another application's files in ${join(dirs[0] ?? '', app.name, 'app')}/)`,
    );
    return undefined;
  }
  const root = join(dir, 'app');
  if (!isDirectory(root)) {
    const archive =
      existsSync(root) || ['app.war', 'app.zip', 'app.jar'].some((a) => existsSync(join(dir, a)));
    sink.error(
      app.pos,
      archive
        ? `application "${app.name}": ${dir} holds an archive; postern serves an application from its app/ directory — unpack it there`
        : `application "${app.name}": no app/ directory in ${dir}`,
    );
    return undefined;
  }

  const serviceFile = join(dir, 'service.xml');
  let xml: ReturnType<typeof parseServiceXml>;
  if (existsSync(serviceFile)) {
    try {
      xml = parseServiceXml(readFileSync(serviceFile, 'utf8'), serviceFile, sink);
    } catch (err) {
      if (err instanceof ConfigError) sink.items.push(...err.diagnostics);
      else
        sink.error({ file: serviceFile, line: 1, column: 1 }, `cannot read file: ${(err as Error).message}`);
      return undefined;
    }
    if (!xml) return undefined;
  }
  const role = xml?.role ?? app.role ?? app.name;
  const base: readonly RouteDef[] = xml?.routes.length ? xml.routes : defaultRoutes(app);
  const routes: RouteDef[] = [];
  for (const mount of mountsOf(app)) {
    for (const route of base) {
      const relative = route.path.startsWith('/') ? route.path : `/${route.path}`;
      routes.push({
        ...route,
        path: `${mount}${relative}`,
        policies: withoutRewrite(route.policies ?? xml?.policies, route.pos),
        dispatch: {
          contributorName: APPLICATION_DISPATCH,
          params: [
            { name: 'root', value: root, pos: route.pos },
            { name: 'mount', value: mount, pos: route.pos },
          ],
          pos: route.pos,
        },
      });
    }
  }
  const rewriteFile = join(dir, 'rewrite.xml');
  const definition: ServiceDefinition = {
    role,
    name: xml?.name ?? app.name,
    version: xml?.version ?? app.version ?? '0.0.0',
    routes,
    policies: withoutRewrite(xml?.policies, xml?.pos ?? app.pos),
    rewrite: existsSync(rewriteFile) ? readRewriteXml(rewriteFile, sink) : emptyRewriteRules(rewriteFile),
    dir,
    source: 'other',
    pos: xml?.pos ?? app.pos,
  };
  return { role, definition };
}
