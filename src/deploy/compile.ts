/**
 * @module deploy/compile
 * Deployment: gateway settings + one topology + the service definitions it names + the provider registry
 * become one immutable {@link Deployment}. All the lookups, checks and parsing happen here, each problem reported
 * at the line of configuration at fault. A topology with an error of its own (a provider, the XML) is not deployed
 * (the caller keeps the previous deployment serving); a service with an error of its own (no definition, a
 * dispatch postern lacks, a route that cannot be routed, a bad URL) fails alone: the deployment lists it in
 * `failed`, its URLs answer 503 with the problem's catalog code, and the other services serve.
 *
 * Chain order: the route's `<policies>`, else the service's, else Knox's default order
 * webappsec → authentication → federation → rewrite → identity-assertion → authorization; or the named chain the
 * topology's service selects with `<chain-ref>`. The dispatch ends every chain. Providers of a role that has a
 * registered contributor (`ha`, `hostmap`) add no filter: they contribute to the deployment instead (the
 * dispatches' `ctx.contribution(key)`, the rewrite functions' hostmap), and compile knows none of them by name.
 */

import { AliasResolver } from '../config/aliases.ts';
import type { Diagnostic, Position } from '../config/diagnostics.ts';
import { ConfigError, DiagnosticSink, formatDiagnostic } from '../config/diagnostics.ts';
import type { GatewaySettings } from '../config/gateway-site.ts';
import { TrackedParams } from '../config/tracked-params.ts';
import type { DescribedHandler } from '../dispatch/http-dispatch.ts';
import { knoxDispatchClasses } from '../dispatch/knox/index.ts';
import { withDispatchWhitelist } from '../dispatch/whitelist.ts';
import { Catalog, errorOfCode, GatewayError } from '../errors.ts';
import { errorShapeFor, servicePageShape } from '../gateway/error-shape.ts';
import { silentAuditLog } from '../observability/audit.ts';
import { tracedDispatch } from '../observability/events.ts';
import type { Registry } from '../registry/index.ts';
import { compileTopologyRewrite } from '../rewrite/topology.ts';
import type { RewriteEnvironment } from '../rewrite/types.ts';
import { failedApplicationRoutes, loadApplication } from '../servicedef/application.ts';
import type { ServiceCatalog } from '../servicedef/catalog.ts';
import type { DispatchDef, PolicyDef, RouteDef, ServiceDefinition } from '../servicedef/model.ts';
import type {
  DispatchContext,
  Handler,
  ProviderContext,
  ProviderFactory,
  RouteContext,
  ServiceContribution,
  TopologyContribution,
} from '../spi/index.ts';
import {
  type AuditLog,
  DefaultPolicyOrder,
  HOSTMAP_CONTRIBUTION,
  NO_AUDIT,
  type RouteAudit,
} from '../spi/index.ts';
import { isDispatchableUrl } from '../topology/check.ts';
import {
  type Param,
  type ProviderConfig,
  type ServiceConfig,
  serviceLabel,
  type Topology,
} from '../topology/model.ts';
import { parseTemplate, TemplateMatcher } from '../urltemplate/index.ts';
import { createWebSocketHandler } from '../websocket/ws-dispatch.ts';
import { compose, type NamedFilter } from './chain.ts';
import {
  type ChainStepInfo,
  type CompiledRoute,
  Deployment,
  type FailedService,
  type Release,
} from './deployment.ts';
import { topologyKey } from './secrets.ts';

export interface CompileInput {
  topology: Topology;
  catalog: ServiceCatalog;
  settings: GatewaySettings;
  registry: Registry;
  masterSecret: Uint8Array;
  /** The gateway home (relative file params resolve against it); default: the current directory. */
  home?: string;
  /** Where providers record their decisions; default: nowhere. */
  audit?: AuditLog;
  /** State kept across deployments (RouteContext.sharedAcrossDeployments); default: a map of this compilation only. */
  sharedAcrossDeployments?: Map<string, unknown>;
  /** The running gateway (RouteContext.gateway); absent outside one. */
  gateway?: RouteContext['gateway'];
  /**
   * What reading the topology found wrong with single services (diagnostics with `service`, e.g. a bad URL): those
   * services fail; the diagnostics are the reader's to report, not repeated here.
   */
  serviceErrors?: readonly Diagnostic[];
  /**
   * Where the topology's `<application>`s are looked for, first match wins (servicedef/application.ts); default:
   * none, so every application fails.
   */
  applicationDirs?: readonly string[];
}

/** One topology service while it is compiled: its own problems go to its own sink. */
interface ServiceBuild {
  service: ServiceConfig;
  label: string;
  sink: DiagnosticSink;
  definition?: ServiceDefinition;
  readErrors: Diagnostic[];
  routes: CompiledRoute[];
  /** The routes a failed application answers 503 on (its mounts), when it has no definition. */
  fallback?: ServiceDefinition;
}

export interface CompileResult {
  deployment?: Deployment;
  diagnostics: Diagnostic[];
}

const DEFAULT_DISPATCH = 'default';

/** How a definition's source is named in the message about competing definitions. */
const SOURCE_NAMES: Record<ServiceDefinition['source'], string> = {
  home: "the home's data/services",
  other: 'postern.services.dirs',
  bundled: 'bundled with postern',
};

interface ChainStep {
  role: string;
  factory: ProviderFactory;
  params: Map<string, string>;
  pos: Position;
}

function paramMap(...lists: (readonly Param[] | undefined)[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const list of lists) if (list) for (const p of list) map.set(p.name, p.value);
  return map;
}

export function compileDeployment(input: CompileInput): CompileResult {
  const { topology, catalog, settings, registry } = input;
  const audit = input.audit ?? silentAuditLog;
  const home = input.home ?? process.cwd();
  const sink = new DiagnosticSink();
  const releases: Release[] = [];
  const sharedState = new Map<string, unknown>();
  const shared = <T>(key: string, create: () => T): T => {
    if (!sharedState.has(key)) sharedState.set(key, create());
    return sharedState.get(key) as T;
  };
  const onRetire = (fn: Release) => {
    releases.push(fn);
  };
  const lastingState = input.sharedAcrossDeployments ?? new Map<string, unknown>();
  const sharedAcrossDeployments = <T>(key: string, create: () => T): T => {
    if (!lastingState.has(key)) lastingState.set(key, create());
    return lastingState.get(key) as T;
  };

  // Providers of the topology: every enabled one must exist in the registry.
  const enabled: ProviderConfig[] = [];
  for (const p of topology.providers) {
    if (!p.enabled) continue;
    if (!registry.findProvider(p.role, p.name)) {
      if (!registry.hasRole(p.role)) {
        sink.error(p.pos, `unknown provider role "${p.role}" (provider "${p.name}")`);
      } else {
        sink.error(p.pos, `no provider named "${p.name}" for role "${p.role}" is available in postern`);
      }
      continue;
    }
    enabled.push(p);
  }

  // Services and their definitions. A problem of one service (no definition, a dispatch postern lacks, a route
  // that cannot be routed, a bad URL the reader found) fails that service alone: it answers 503 with the
  // problem's code and the topology deploys the others. A provider or the topology itself failing stays fatal.
  const builds: ServiceBuild[] = [];
  const urlsByRole = new Map<string, string[]>();
  for (const service of topology.services) {
    urlsByRole.set(
      service.role,
      service.urls.map((u) => u.url),
    );
    const label = serviceLabel(service);
    const build: ServiceBuild = {
      service,
      label,
      sink: new DiagnosticSink(),
      readErrors: (input.serviceErrors ?? []).filter((d) => d.severity === 'error' && d.service === label),
      routes: [],
    };
    builds.push(build);
    const definition = catalog.resolve(service.role, service.name, service.version);
    const dispatchable = service.urls.some((u) => isDispatchableUrl(u.url));
    if (!definition && service.urls.length > 0 && !dispatchable) {
      // Knox's registry-only services (the sandbox's NAMENODE hdfs://, JOBTRACKER rpc://): values for rewrite
      // functions, never routed.
      continue;
    }
    if (definition && service.urls.length > 0 && !dispatchable) {
      sink.warn(
        service.pos,
        `service "${service.role}" has no http(s) or ws(s) URL: its routes answer 502 (its URLs still serve rewrite functions)`,
      );
    }
    if (!definition) {
      const which = [
        service.name && `name "${service.name}"`,
        service.version && `version ${service.version}`,
      ]
        .filter(Boolean)
        .join(', ');
      build.sink.error(
        service.pos,
        `no service definition for role "${service.role}"${which ? ` (${which})` : ''}`,
        { code: Catalog.serviceNoDefinition.code },
      );
      continue;
    }
    build.definition = definition;
    const passed = catalog.competing(service.role, service.name, service.version);
    if (passed.length > 0) {
      const from = (d: ServiceDefinition) => `${d.name}/${d.version} (${SOURCE_NAMES[d.source]}, ${d.dir})`;
      sink.warn(
        service.pos,
        `service ${service.role} uses ${from(definition)}, not ${passed.map(from).join(' nor ')}: ` +
          `without a <version>, the home's definitions come first; pin <version>${passed[0].version}</version> to use ${passed.length > 1 ? 'another' : 'that one'}`,
      );
    }
    if (service.urls.length === 0 && !answersItself(definition, service, registry)) {
      sink.warn(service.pos, `service "${service.role}" has no <url>`);
    }
  }
  // Applications: each a service of the topology whose definition comes from its own directory.
  for (const app of topology.applications) {
    const appSink = new DiagnosticSink();
    const loaded = loadApplication(app, input.applicationDirs ?? [], appSink);
    const role = loaded?.role ?? app.role ?? app.name;
    const service: ServiceConfig = {
      role,
      ...(role !== app.name && { name: app.name }),
      urls: [],
      params: app.params,
      pos: app.pos,
    };
    const build: ServiceBuild = {
      service,
      label: serviceLabel(service),
      sink: new DiagnosticSink(),
      readErrors: [],
      routes: [],
    };
    for (const d of appSink.items) {
      build.sink.items.push(
        d.severity === 'error' ? { ...d, code: d.code ?? Catalog.serviceApplication.code } : d,
      );
    }
    if (loaded && !build.sink.hasErrors) build.definition = loaded.definition;
    else build.fallback = loaded?.definition ?? failedApplicationRoutes(app);
    builds.push(build);
  }
  const used = builds.flatMap((b) =>
    b.definition ? [{ service: b.service, definition: b.definition }] : [],
  );

  // Topology-level contributors (HaProvider, hostmap: Knox's contributeProvider), by their key.
  const contributions = new Map<string, TopologyContribution>();
  for (const contributor of registry.contributors()) {
    const role = contributor.role.toLowerCase();
    const providers = enabled.filter((p) => p.role.toLowerCase() === role);
    if (providers.length === 0) continue;
    try {
      const made = contributor.contribute({ topology, providers, settings, sink });
      if (made) contributions.set(contributor.key, made);
    } catch (err) {
      report(sink, providers[0].pos, `provider role ${contributor.role}`, err);
    }
  }
  const serviceContributions = (service: ServiceConfig): [string, ServiceContribution][] => {
    const out: [string, ServiceContribution][] = [];
    for (const [key, c] of contributions) {
      const made = c.forService?.(service);
      if (made) out.push([key, made]);
    }
    return out;
  };

  const rewriteSink = new DiagnosticSink();
  const rewrite = compileTopologyRewrite({
    definitions: used.map((u) => u.definition),
    sink: rewriteSink,
    environment: {
      topology: topology.name,
      gatewayPath: settings.path,
      serviceUrls: (role) => urlsByRole.get(role),
      hostmap: contributions.get(HOSTMAP_CONTRIBUTION)?.value as RewriteEnvironment['hostmap'],
      frontendUrl: settings.frontendUrl,
      secret: topologyKey(input.masterSecret, topology.name, 'encrypt-query'),
    },
  });
  // A rewrite error in one definition's files (a binding naming a rule nothing defines) fails the services that
  // use that definition; one the topology's own, the topology.
  for (const d of rewriteSink.items) {
    const owners =
      d.severity === 'error'
        ? builds.filter((b) => b.definition && d.file.startsWith(`${b.definition.dir}/`))
        : [];
    if (owners.length === 0) sink.items.push(d);
    for (const b of owners) b.sink.items.push({ ...d, code: Catalog.serviceBadRoute.code });
  }

  const matcher = new TemplateMatcher<CompiledRoute>();
  const routes: CompiledRoute[] = [];
  const seen = new Map<string, { role: string; pos: Position }>();

  // What every factory of this deployment gets besides its route (RouteContext).
  const aliases = new AliasResolver(home, input.masterSecret, topology.name);
  const runtime = {
    settings,
    shared,
    sharedAcrossDeployments,
    onRetire,
    audit,
    home,
    masterSecret: input.masterSecret,
    secret: (value: string) => aliases.resolve(value),
    gateway: input.gateway,
  };
  for (const build of builds) {
    const { service, definition } = build;
    if (!definition || build.readErrors.length > 0) continue;
    const local = new Map<string, { role: string; pos: Position }>();
    for (const route of definition.routes) {
      const path = route.path.startsWith('/') ? route.path : `/${route.path}`;
      let template: ReturnType<typeof parseTemplate>;
      try {
        template = parseTemplate(path);
      } catch (err) {
        build.sink.error(
          route.pos,
          `route path "${route.path}" is not a valid URL template: ${(err as Error).message}`,
          { code: Catalog.serviceBadRoute.code },
        );
        continue;
      }
      const key = template.toString();
      const prior = seen.get(key) ?? local.get(key);
      if (prior) {
        const where = `${prior.pos.file}:${prior.pos.line}`;
        if (prior.role === service.role && prior.pos.file === route.pos.file) {
          // Knox's matcher keeps the first of identical templates; some of Knox's own definitions repeat a route.
          sink.warn(route.pos, `route "${route.path}" repeats the route at ${where}; the first one is used`);
        } else {
          build.sink.error(
            route.pos,
            `route "${route.path}" of ${service.role} is already routed to ${prior.role} (${where})`,
            { code: Catalog.serviceBadRoute.code },
          );
        }
        continue;
      }
      local.set(key, { role: service.role, pos: route.pos });

      // What the providers report about this route goes to a sink of its own first: a problem in the definition's
      // files (a binding naming a rule no rewrite.xml defines) fails the service; any other, the topology.
      const stepSink = new DiagnosticSink();
      const base = { ...runtime, topology, service, definition, route, sink: stepSink };
      // What the dispatch reports is this service's: it fails the service, not the topology.
      const dispatchBase = { ...base, sink: build.sink };
      const steps = chainSteps(topology, service, definition, route, enabled, registry, sink);
      const filters: NamedFilter[] = [];
      const stepInfos: ChainStepInfo[] = [];
      for (const step of steps) {
        const params = new TrackedParams(step.params);
        const ctx: ProviderContext = {
          ...base,
          role: step.role,
          name: step.factory.name,
          params,
          pos: step.pos,
          rewrite,
        };
        try {
          const filter = step.factory.create(ctx);
          // A param the provider never looked at does nothing: say so (Knox's params postern lacks, typos).
          for (const name of params.unread()) {
            stepSink.warn(
              step.pos,
              `${step.role} provider ${step.factory.name}: param "${name}" is not one postern reads; it is ignored`,
            );
          }
          if (filter) filters.push({ name: `${step.role}/${step.factory.name}`, filter });
          stepInfos.push({
            role: step.role,
            name: step.factory.name,
            params: step.params,
            pos: step.pos,
            filter,
          });
        } catch (err) {
          report(stepSink, step.pos, `provider ${step.role}/${step.factory.name}`, err);
        }
      }
      for (const d of stepSink.items) {
        const mine = d.severity === 'error' && d.file.startsWith(`${definition.dir}/`);
        if (mine) build.sink.items.push({ ...d, code: d.code ?? Catalog.serviceBadRoute.code });
        else sink.items.push(d);
      }
      const dispatch = buildDispatch(
        topology,
        service,
        definition,
        route,
        registry,
        build.sink,
        serviceContributions(service),
        runtime,
      );
      if (!dispatch) continue;
      const dispatchAudit = audit.forRoute({
        topology: topology.name,
        service: service.role,
        action: 'dispatch',
        provider: dispatch.name,
      });
      const compiled: CompiledRoute = {
        role: service.role,
        definition: `${definition.name}/${definition.version}`,
        path: route.path,
        template,
        chain: [...filters.map((f) => f.name), `dispatch/${dispatch.name}`],
        pos: route.pos,
        service,
        route,
        steps: stepInfos,
        errorShape:
          errorShapeFor(service.role) ??
          servicePageShape(registry.services().find((s) => s.name === dispatch.name)),
        dispatch: {
          name: dispatch.name,
          params: dispatch.params,
          pos: dispatch.pos,
          requestHeaders: (dispatch.run as DescribedHandler).requestHeaders,
        },
        run: compose(
          filters,
          tracedDispatch(
            audited(withDispatchWhitelist(settings, service.role, dispatch.run), dispatchAudit),
            'http',
          ),
        ),
        upgrade: compose(
          filters,
          tracedDispatch(
            audited(
              withDispatchWhitelist(
                settings,
                service.role,
                (dispatch.upgrade ?? createWebSocketHandler)({
                  ...dispatchBase,
                  name: 'websocket',
                  params: paramMap(service.params),
                  dispatch: undefined,
                  pos: route.pos,
                  useTwoWaySsl: useTwoWaySsl(service, route.dispatch ?? definition.dispatch),
                  contribution: dispatch.contribution,
                }),
              ),
              audit.forRoute({
                topology: topology.name,
                service: service.role,
                action: 'dispatch',
                provider: 'websocket',
              }),
            ),
            'websocket',
          ),
        ),
      };
      build.routes.push(compiled);
    }
    if (build.sink.hasErrors) continue;
    for (const compiled of build.routes) {
      matcher.add(compiled.template, compiled);
      routes.push(compiled);
    }
    for (const [key, value] of local) seen.set(key, value);
  }

  // The services that failed: their problems are reported as errors (check exits 1), and their URLs answer 503
  // with the problem's code after the topology's security providers, so nothing is told to an unknown client.
  const failed: FailedService[] = [];
  for (const build of builds) {
    const errors = [...build.readErrors, ...build.sink.items.filter((d) => d.severity === 'error')];
    for (const d of build.sink.items) if (d.severity === 'warning') sink.items.push(d);
    if (errors.length === 0) continue;
    const code = errors.find((d) => d.code !== undefined)?.code ?? Catalog.serviceNotDeployed.code;
    const tagged = build.sink.items
      .filter((d) => d.severity === 'error')
      .map((d) => ({ ...d, service: build.label, code: d.code ?? code }));
    sink.items.push(...tagged);
    failed.push({
      role: build.service.role,
      name: build.service.name,
      label: build.label,
      code,
      diagnostics: [...build.readErrors, ...tagged],
    });
    const answer = failedServiceRoutes(
      build,
      code,
      catalog,
      topology,
      enabled,
      registry,
      runtime,
      rewrite,
      seen,
    );
    for (const compiled of answer) {
      matcher.add(compiled.template, compiled);
      routes.push(compiled);
    }
  }

  // A problem of a definition's dispatch or binding repeats for every route that shares it: report it once.
  const diagnostics = uniqueDiagnostics(sink.items);
  // An error of the topology (not of one service) fails it whole.
  if (sink.items.some((d) => d.severity === 'error' && d.service === undefined)) {
    // Nothing of a broken deployment may stay open.
    for (const fn of releases) {
      void Promise.resolve()
        .then(() => fn('shutdown'))
        .catch(() => {});
    }
    return { diagnostics };
  }
  const deployment = new Deployment({
    name: topology.name,
    topology,
    matcher,
    routes,
    releases,
    settings,
    rewrite,
    definitions: used.map((u) => u.definition),
    failed,
  });
  return { deployment, diagnostics };
}

type Runtime = Pick<
  DispatchContext,
  | 'settings'
  | 'shared'
  | 'sharedAcrossDeployments'
  | 'onRetire'
  | 'audit'
  | 'home'
  | 'masterSecret'
  | 'secret'
  | 'gateway'
>;

/**
 * The routes a failed service answers on: its definition's (or, without one for its version, another version's
 * of its role; else Knox's usual `/{role}` and `/{role}/**`), those no deployed service took. Each runs the
 * topology's chain without rewrite, then answers 503 with the failure's code; a chain that cannot be built for it
 * gives no route (a plain 404), never a route without its security providers.
 */
function failedServiceRoutes(
  build: ServiceBuild,
  code: string,
  catalog: ServiceCatalog,
  topology: Topology,
  enabled: readonly ProviderConfig[],
  registry: Registry,
  runtime: Runtime,
  rewrite: ProviderContext['rewrite'],
  taken: ReadonlyMap<string, unknown>,
): CompiledRoute[] {
  const { service } = build;
  const known = build.definition ?? build.fallback ?? catalog.resolve(service.role);
  const lower = service.role.toLowerCase();
  const definition: ServiceDefinition = known ?? {
    role: service.role,
    name: lower,
    version: '0.0.0',
    routes: [`/${lower}`, `/${lower}/**`].map((path) => ({ path, rewrites: [], pos: service.pos })),
    rewrite: { file: '', rules: [], filters: [] },
    dir: '',
    source: 'other',
    pos: service.pos,
  };
  const scratch = new DiagnosticSink();
  const out: CompiledRoute[] = [];
  const terminal: Handler = async (ex) => {
    ex.req.resume();
    throw errorOfCode(code, { details: { service: service.role } });
  };
  for (const route of definition.routes) {
    let template: ReturnType<typeof parseTemplate>;
    try {
      template = parseTemplate(route.path.startsWith('/') ? route.path : `/${route.path}`);
    } catch {
      continue;
    }
    if (taken.has(template.toString()) || out.some((r) => r.template.toString() === template.toString())) {
      continue;
    }
    const base = { ...runtime, topology, service, definition, route, sink: scratch };
    const filters: NamedFilter[] = [];
    const steps: ChainStepInfo[] = [];
    for (const step of chainSteps(topology, service, definition, route, enabled, registry, scratch)) {
      if (step.role === 'rewrite') continue;
      try {
        const filter = step.factory.create({
          ...base,
          role: step.role,
          name: step.factory.name,
          params: step.params,
          pos: step.pos,
          rewrite,
        });
        if (filter) filters.push({ name: `${step.role}/${step.factory.name}`, filter });
        steps.push({ role: step.role, name: step.factory.name, params: step.params, pos: step.pos, filter });
      } catch {
        return [];
      }
    }
    if (scratch.hasErrors) return [];
    const run = compose(filters, terminal);
    out.push({
      role: service.role,
      definition: `${definition.name}/${definition.version}`,
      path: route.path,
      template,
      chain: [...filters.map((f) => f.name), 'dispatch/failed'],
      pos: route.pos,
      service,
      route,
      steps,
      dispatch: { name: 'failed', params: new Map(), pos: service.pos },
      run,
      upgrade: run,
    });
  }
  return out;
}

/** Whether the service's dispatch answers in the gateway (then it has no backend URL to name). */
function answersItself(definition: ServiceDefinition, service: ServiceConfig, registry: Registry): boolean {
  const d = service.dispatch ?? definition.dispatch;
  const name = d?.contributorName ?? d?.className;
  return name !== undefined && registry.findDispatch(name)?.answersItself === true;
}

/** Knox's two spellings: `<dispatch use-two-way-ssl="true">` (topology override first) or the `useTwoWaySsl` param. */
function useTwoWaySsl(service: ServiceConfig, chosen: DispatchDef | undefined): boolean {
  const flag = service.dispatch?.useTwoWaySsl ?? chosen?.useTwoWaySsl;
  if (flag !== undefined) return flag;
  const param = [...(service.params ?? []), ...(chosen?.params ?? [])].find((p) => p.name === 'useTwoWaySsl');
  return param?.value.trim().toLowerCase() === 'true';
}

/**
 * Records the dispatch and its outcome in the audit log: the backend's status, or the gateway's answer when the
 * backend could not be reached. With the audit log off, the dispatch is returned as it is.
 */
function audited(run: Handler, audit: RouteAudit): Handler {
  if (audit === NO_AUDIT) return run;
  return (ex) =>
    run(ex).then(
      () => {
        const status = ex.res.statusCode;
        audit(ex, status >= 500 ? 'unavailable' : 'success', { status, effectiveUser: ex.effectiveUser });
      },
      (err: unknown) => {
        const status = err instanceof GatewayError ? err.status : 500;
        audit(ex, status >= 500 ? 'unavailable' : 'failure', {
          status,
          effectiveUser: ex.effectiveUser,
          reason: err instanceof GatewayError ? err.code : 'internal error',
        });
        throw err;
      },
    );
}

function uniqueDiagnostics(items: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return items.filter((d) => {
    const key = `${d.severity}|${formatDiagnostic(d)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function report(sink: DiagnosticSink, pos: Position, what: string, err: unknown): void {
  if (err instanceof ConfigError) for (const d of err.diagnostics) sink.items.push(d);
  else sink.error(pos, `${what}: ${(err as Error).message}`);
}

/** The providers of one route's chain, in order, with their merged params. */
function chainSteps(
  topology: Topology,
  service: ServiceConfig,
  definition: ServiceDefinition,
  route: RouteDef,
  enabled: readonly ProviderConfig[],
  registry: Registry,
  sink: DiagnosticSink,
): ChainStep[] {
  const steps: ChainStep[] = [];
  const chainRef = service.chainRef;
  const refParams = (role: string) => chainRef?.params.filter((p) => p.role === role);

  const topologyProviders = (role: string, name?: string) =>
    enabled.filter(
      (p) => p.role === role && (name === undefined || p.name.toLowerCase() === name.toLowerCase()),
    );

  const addStep = (role: string, name: string | undefined, pos: Position, extra?: readonly Param[]) => {
    // Roles with a contributor configure deployment rather than add a filter to chains.
    if (registry.findContributor(role)) return;
    if (role === 'rewrite' && name === undefined) {
      const factory = registry.findProvider('rewrite', 'url-rewrite')!;
      steps.push({ role, factory, params: paramMap(extra, refParams(role)), pos });
      return;
    }
    const configured = topologyProviders(role, name);
    if (configured.length > 0) {
      for (const p of configured) {
        const factory = registry.findProvider(p.role, p.name)!;
        steps.push({ role, factory, params: paramMap(p.params, extra, refParams(role)), pos: p.pos });
      }
      return;
    }
    if (name !== undefined) {
      const factory = registry.findProvider(role, name);
      if (!factory) {
        sink.error(pos, `no provider named "${name}" for role "${role}" is available in postern`);
        return;
      }
      steps.push({ role, factory, params: paramMap(extra, refParams(role)), pos });
      return;
    }
    // Knox adds the Default identity assertion when a topology declares none.
    if (role === 'identity-assertion') {
      const factory = registry.findProvider('identity-assertion', 'Default')!;
      steps.push({ role, factory, params: paramMap(extra, refParams(role)), pos });
    }
  };

  if (chainRef && chainRef.name !== 'default') {
    const chain = topology.chains.find((c) => c.name === chainRef.name);
    if (!chain) {
      sink.error(chainRef.pos, `chain "${chainRef.name}" is not declared in <gateway>`);
      return steps;
    }
    for (const ref of chain.providers) addStep(ref.role, ref.name, ref.pos, ref.params);
    // The rewrite provider maps the request to its backend; a chain that does not place it gets it last.
    if (!chain.providers.some((r) => r.role === 'rewrite')) addStep('rewrite', undefined, chain.pos);
    return steps;
  }

  const policies: readonly PolicyDef[] | undefined = route.policies ?? definition.policies;
  if (policies) {
    for (const policy of policies) addStep(policy.role, policy.name, policy.pos);
  } else {
    for (const role of DefaultPolicyOrder) addStep(role, undefined, service.pos);
  }
  return steps;
}

function buildDispatch(
  topology: Topology,
  service: ServiceConfig,
  definition: ServiceDefinition,
  route: RouteDef,
  registry: Registry,
  sink: DiagnosticSink,
  contributed: readonly [string, ServiceContribution][],
  runtime: Pick<
    DispatchContext,
    | 'settings'
    | 'shared'
    | 'sharedAcrossDeployments'
    | 'onRetire'
    | 'audit'
    | 'home'
    | 'masterSecret'
    | 'secret'
    | 'gateway'
  >,
):
  | {
      name: string;
      params: ReadonlyMap<string, string>;
      pos: Position;
      run: Handler;
      upgrade?: (ctx: DispatchContext) => Handler;
      contribution: DispatchContext['contribution'];
    }
  | undefined {
  const override = service.dispatch;
  const chosen: DispatchDef | undefined = route.dispatch ?? definition.dispatch;
  const contributor = override?.contributorName ?? chosen?.contributorName;
  const className = override?.className ?? chosen?.className;
  const pos = override?.pos ?? chosen?.pos ?? route.pos;
  // A contribution on for the service may choose the dispatch: with HA on, Knox's `ha-*` names (DefaultHaDispatch
  // when none is given).
  const choice = contributed.find(([, c]) => c.dispatch)?.[1].dispatch;
  const names = (choice ? choice.names(override, chosen) : [contributor, className]).filter(
    (n): n is string => !!n,
  );
  if (names.length === 0 && choice) {
    // Knox falls back to DefaultHaDispatch, dropping what the service's own dispatch guarantees (LivyDispatch's
    // proxyUser, JkgDispatch's KERNEL_USERNAME); a dispatch that can fail over itself is kept instead.
    const own = [contributor, className].find((n) => n && registry.findDispatch(n)?.failover);
    if (own) names.push(own);
  }
  if (names.length === 0) names.push(choice ? choice.fallback : DEFAULT_DISPATCH);
  let factory: ReturnType<Registry['findDispatch']>;
  for (const n of names) {
    factory = registry.findDispatch(n);
    if (factory) break;
  }
  if (!factory) {
    // The classes postern has, so the author of the definition sees what to write instead.
    sink.error(
      pos,
      `dispatch "${names.join('" / "')}" is not available in postern (service ${service.role}); ` +
        `the Knox dispatch classes postern knows: ${knoxDispatchClasses(registry).join(', ')}`,
      { code: Catalog.serviceDispatchUnavailable.code },
    );
    return undefined;
  }
  const params = paramMap(service.params, chosen?.params, override?.params);
  try {
    const values = new Map<string, unknown>();
    for (const [key, c] of contributed) {
      if (c.accepts && !c.accepts(factory)) continue;
      values.set(key, c.value({ ...runtime, topology, service }));
    }
    const contribution = <T>(key: string): T | undefined => values.get(key) as T | undefined;
    const run = factory.create({
      ...runtime,
      contribution,
      name: factory.name,
      params,
      dispatch: chosen,
      topology,
      service,
      definition,
      route,
      sink,
      pos,
      useTwoWaySsl: useTwoWaySsl(service, chosen),
    });
    const upgrade = factory.createUpgrade;
    return {
      name: factory.name,
      params,
      pos,
      run,
      upgrade: upgrade && ((c) => upgrade.call(factory, { ...c, params })),
      contribution,
    };
  } catch (err) {
    report(sink, pos, `dispatch ${factory.name}`, err);
    return undefined;
  }
}
