/**
 * @module gateway/gateway
 * A running postern: reads the home (`conf/gateway-site.xml`, `conf/topologies`, `conf/descriptors`,
 * `conf/shared-providers`, service definitions), builds the registry from the built-ins and the plugins
 * gateway-site names, deploys every topology, serves them, and redeploys a topology within about a second of its
 * file changing. A topology that does not deploy is logged with the position of each problem and never replaces
 * the deployment that serves.
 */
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { basename, extname, join } from 'node:path';
import { acquireSharedState } from '../cluster/redis-state.ts';
import { ConfigError, type Diagnostic, formatDiagnostic } from '../config/diagnostics.ts';
import { type GatewaySettings, loadGatewaySite } from '../config/gateway-site.ts';
import { compileDeployment } from '../deploy/compile.ts';
import type { Deployment } from '../deploy/deployment.ts';
import { loadOrCreateMasterSecret } from '../deploy/secrets.ts';
import { DirectoryMonitor, type FileChange } from '../deploy/topology-monitor.ts';
import { explain } from '../explain/index.ts';
import { auditLogOn, createAuditLog } from '../observability/audit.ts';
import {
  type BackendHealthEvent,
  backendHealthEvents,
  type DeploymentEvent,
  deploymentEvents,
  type LifecycleEvent,
  lifecycleEvents,
  type RequestEvent,
  requestEvents,
} from '../observability/events.ts';
import { configurationLogger, createAccessLog, createLogger, type Logger } from '../observability/logger.ts';
import { loadServiceDefinitions } from '../servicedef/catalog.ts';
import type { ServiceDefinition } from '../servicedef/model.ts';
import type {
  AuditLog,
  ExplainRequest,
  FileReload,
  GatewayHandle,
  ServiceEndpoint,
  ServiceHost,
  TopologyReport,
} from '../spi/index.ts';
import { createTokenState, type GatewayTokenState } from '../tokenstate/index.ts';
import { toTopologyXml } from '../topology/descriptor.ts';
import { readDescriptorFile, readTopologyFile, readTopologySource } from '../topology/load.ts';
import type { Topology } from '../topology/model.ts';
import { FileWatches } from './file-watches.ts';
import {
  applicationDirs,
  DESCRIPTOR_EXTENSIONS,
  definitionDirs,
  type HomeLayout,
  type LoadedHome,
  loadHome,
  REPO_ROOT,
  TOPOLOGY_EXTENSIONS,
} from './home.ts';
import { Operations, sendJson } from './operations.ts';
import { type Readiness, readiness } from './readiness.ts';
import { RecentErrors } from './recent-errors.ts';
import { GatewayServer } from './server.ts';
import { compareSettings } from './site-reload.ts';

export {
  applicationDirs,
  DESCRIPTOR_EXTENSIONS,
  definitionDirs,
  type HomeLayout,
  homeLayout,
  type LoadedHome,
  loadHome,
  REPO_ROOT,
  TOPOLOGY_EXTENSIONS,
} from './home.ts';

import { newTicketKeys, SHARED_KEY_WAIT_MS, sharedTicketKeys, TicketKeyRotation } from './ticket-keys.ts';
import { loadServerTls } from './tls.ts';

export interface GatewayOptions {
  home: string;
  /** Overrides gateway-site (tests use port 0). */
  port?: number;
  host?: string;
  log?: Logger;
  /** Where access lines go; default: `logs/access.log`, or `log` when a logger is given. */
  accessLog?: Logger;
  /** Where audit events go; default: `logs/audit.log`, or `log` when a logger is given. */
  audit?: AuditLog;
  /** Watch conf/ for changes (default true). */
  watch?: boolean;
  settings?: Partial<GatewaySettings>;
  /**
   * Starts the demo backends when gateway-site enables them. `aliases` maps a URL origin the sample topology names
   * (`http://127.0.0.1:18080`) to the one a demo backend actually bound, when its port was in use.
   */
  startDemoBackends?: () => Promise<{ close: () => Promise<void>; aliases?: ReadonlyMap<string, string> }>;
  /**
   * Starts the exporters gateway-site enables (metrics, tracing: observability/telemetry.ts) before the first
   * deployment; returns their close function. The core only publishes events; this is how exporters are wired.
   */
  startTelemetry?: (gateway: Gateway) => Promise<() => Promise<void>>;
  /**
   * The key that seals TLS session tickets, when another process makes it for every worker (cluster/worker.ts,
   * which also passes on its replacements through {@link GatewayServer.setTicketKeys}). Without it the gateway
   * makes its own and replaces it every `postern.tls.ticket.key.rotation` (gateway/ticket-keys).
   */
  ticketKeys?: Buffer;
}

/** What a SIGHUP did (see {@link Gateway.reloadSite}). */
export interface SiteReload {
  ok: boolean;
  reloaded: string[];
  restartNeeded: string[];
}

export interface TopologyStatus {
  file: string;
  deployed: boolean;
  deployedAt?: Date;
  diagnostics: Diagnostic[];
}

export class Gateway implements GatewayHandle {
  readonly home: LoadedHome;
  readonly server: GatewayServer;
  readonly log: Logger;
  /** Configuration diagnostics and deployment outcomes: said once however many workers (observability/logger.ts). */
  readonly configLog: Logger;
  readonly audit: AuditLog;
  readonly status = new Map<string, TopologyStatus>();
  /** Health, readiness and exporters' endpoints outside the gateway path. */
  readonly operations = new Operations();
  /** The last errors (failed deployments, backends gone down, 5xx answers), for the admin API (src/services/admin/). */
  readonly recentErrors = new RecentErrors();
  #unwatchErrors?: () => void;
  readonly #masterSecret: Uint8Array;
  readonly #monitors: DirectoryMonitor[] = [];
  /** State providers keep across redeployments (RouteContext.sharedAcrossDeployments). */
  readonly #sharedAcrossDeployments = new Map<string, unknown>();
  /** Knox's token state service (GatewayHandle.tokenState), opened at first use. */
  readonly tokenState: GatewayTokenState;
  #closeDemos?: () => Promise<void>;
  /** Service URL origins moved to where a demo backend bound (see GatewayOptions.startDemoBackends). */
  #demoAliases: ReadonlyMap<string, string> = new Map();
  #closeTelemetry?: () => Promise<void>;
  /** The TLS session ticket key's rotation, when this gateway makes its own. */
  #ticketKeys?: TicketKeyRotation;
  #overrides?: Partial<GatewaySettings>;
  #stopping?: Promise<number>;
  #address?: AddressInfo;
  #definitionsPoll?: NodeJS.Timeout;
  /** Lets go of the state shared through Redis (`postern.state.redis.url`). */
  readonly #releaseState: (() => Promise<void>) | undefined;
  #definitionsStamp = '';
  /** Files deployments read besides their topologies (users files): GatewayHandle.watchFile. */
  readonly #files = new FileWatches((file, result) => this.#fileReloaded(file, result));

  private constructor(
    home: LoadedHome,
    server: GatewayServer,
    log: Logger,
    audit: AuditLog,
    secret: Uint8Array,
  ) {
    this.home = home;
    this.audit = audit;
    this.server = server;
    this.log = log;
    this.configLog = configurationLogger(log);
    this.#masterSecret = secret;
    this.tokenState = createTokenState(home.settings, home.layout.home, secret, log);
    this.#releaseState = acquireSharedState(home.settings, log);
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const loaded = await loadHome(options.home, options.settings);
    const { layout, settings } = loaded;
    const log =
      options.log ??
      createLogger({ logDir: layout.logs, level: process.env.POSTERN_LOG_LEVEL ?? settings.logLevel });
    const accessLog =
      options.accessLog ?? (options.log ? options.log : createAccessLog({ logDir: layout.logs }));
    for (const d of loaded.diagnostics) logDiagnostic(configurationLogger(log), d);
    const secret = loadOrCreateMasterSecret(join(layout.security, 'master.secret'));
    const identity = settings.ssl.enabled ? await loadServerTls(settings, layout.home) : undefined;
    const ticketKeys = identity ? (options.ticketKeys ?? newTicketKeys()) : undefined;
    const tls = identity && { ...identity, ticketKeys };
    const server = new GatewayServer({ settings, log, accessLog, tls });
    const audit =
      options.audit ?? (options.log ? auditLogOn(options.log) : createAuditLog({ logDir: layout.logs }));
    // Services' endpoints outside the gateway path (registry.service), checked before anything starts.
    server.endpoints = endpointsOutside(loaded.registry.endpoints(), settings.path);
    const gateway = new Gateway(loaded, server, log, audit, secret);
    gateway.#overrides = options.settings;
    if (ticketKeys && !options.ticketKeys) {
      // Shared with the other nodes (postern.tls.ticket.key.shared): through the shared state the gateway holds.
      gateway.#ticketKeys = new TicketKeyRotation(
        settings.ssl.ticketKeyRotationMs,
        (keys) => server.setTicketKeys(keys),
        ticketKeys,
        sharedTicketKeys(settings, log),
      );
    }
    gateway.#operate();
    gateway.#watchErrors();
    if (settings.demoBackends && options.startDemoBackends) {
      const demos = await options.startDemoBackends();
      gateway.#closeDemos = demos.close;
      gateway.#demoAliases = demos.aliases ?? new Map();
      for (const [from, to] of gateway.#demoAliases) {
        log.warn({ from, to }, `demo backend ${from} was in use: topologies' ${from} URLs go to ${to}`);
      }
    }
    if (options.startTelemetry) {
      try {
        gateway.#closeTelemetry = await options.startTelemetry(gateway);
      } catch (err) {
        await gateway.#closeDemos?.();
        throw err;
      }
    }
    const watch = options.watch !== false;
    const descriptors = gateway.#monitor(layout.descriptors, DESCRIPTOR_EXTENSIONS, (c) =>
      gateway.#onDescriptors(c),
    );
    const shared = gateway.#monitor(layout.sharedProviders, DESCRIPTOR_EXTENSIONS, () =>
      gateway.#regenerateAll(),
    );
    const topologies = gateway.#monitor(
      layout.topologies,
      TOPOLOGY_EXTENSIONS,
      (c) => gateway.#onTopologies(c),
      {
        requireContentChange: settings.topologyRedeployRequiresChanges,
      },
    );
    // The services the gateway answers itself (registry.service) live with the gateway; the core knows none of
    // them by name.
    for (const s of loaded.registry.services()) s.open?.(gateway.#serviceHost());
    shared.prime();
    for (const file of descriptors.prime()) gateway.#generate(file);
    for (const file of topologies.prime()) gateway.deployFile(file);
    try {
      await gateway.#ticketKeys?.readyWithin(SHARED_KEY_WAIT_MS);
      gateway.#address = await server.listen(options.port ?? settings.port, options.host ?? settings.host);
      for (const s of loaded.registry.services()) await s.start?.(gateway.#serviceHost());
    } catch (err) {
      await gateway.close();
      throw err;
    }
    if (watch) {
      for (const m of gateway.#monitors) m.start();
      gateway.#watchDefinitions();
      gateway.#files.start();
    }
    log.info(
      { url: gateway.url, topologies: [...server.deployments.keys()], tls: tls?.source },
      `postern listening on ${gateway.url}`,
    );
    lifecycle({ event: 'listening' });
    return gateway;
  }

  /** Whether `/readyz` answers 200 (gateway/readiness.ts decides). */
  get ready(): boolean {
    return this.readiness().ready;
  }

  /**
   * Readiness (gateway/readiness.ts): the node serves what it served; a failed topology is reported, and makes it
   * not ready only with `postern.health.ready.strict`. Not ready while stopping.
   */
  readiness(): Readiness {
    const deployments = this.server.deployments;
    const names = new Set([...this.status.keys(), ...deployments.keys()]);
    return readiness({
      draining: this.server.draining,
      strict: this.settings.health.readyStrict,
      topologies: [...names].sort().map((name) => ({
        name,
        serving: deployments.has(name),
        failed: this.status.get(name)?.deployed === false,
      })),
      failedServices: [...deployments.values()].flatMap((d) =>
        d.failed.map((f) => ({ topology: d.name, service: f.label, code: f.code })),
      ),
    });
  }

  /** What a service's life-cycle hooks see: the settings as they are now, the log and the home. */
  #serviceHost(): ServiceHost {
    return { settings: this.settings, log: this.log, home: this.home.layout.home };
  }

  /** Liveness and readiness on the gateway's listener (unless `postern.health.enabled` is false). */
  #operate(): void {
    const operations: GatewayServer['operations'] = (req, res) => this.operations.handle(req, res);
    this.server.operations = operations;
    const health = this.settings.health;
    if (!health.enabled) return;
    this.operations.add(health.livePath, (_req, res) =>
      sendJson(res, 200, { status: this.server.draining ? 'draining' : 'ok' }),
    );
    this.operations.add(health.readyPath, (_req, res) => {
      const { ready, body } = this.readiness();
      sendJson(res, ready ? 200 : 503, body);
    });
  }

  /** The home's directories (GatewayHandle). */
  get layout(): HomeLayout {
    return this.home.layout;
  }

  /** postern's version (package.json) and git revision when the code runs from a checkout (GatewayHandle). */
  get build(): { version: string; hash: string } {
    buildInfo ??= readBuildInfo();
    return buildInfo;
  }

  /** Every loaded service definition (GatewayHandle). */
  definitions(): readonly ServiceDefinition[] {
    return this.home.catalog.all();
  }

  /** Requests in flight, upgrades not counted (GatewayHandle). */
  get inflight(): number {
    return this.server.inflight;
  }

  /** Every topology known, deployed or failed, sorted by name, with the routes of what serves (GatewayHandle). */
  topologies(): TopologyReport[] {
    const deployments = this.server.deployments;
    const names = [...new Set([...this.status.keys(), ...deployments.keys()])].sort();
    return names.map((name) => {
      const status = this.status.get(name);
      const serving = deployments.get(name);
      return {
        name,
        file: status?.file ?? serving?.topology.file,
        deployed: status?.deployed ?? serving !== undefined,
        deployedAt: status?.deployedAt,
        diagnostics: status?.diagnostics ?? [],
        serving: serving && {
          since: serving.deployedAt,
          topology: serving.topology,
          services: serving.topology.services.map((s) => {
            const failed = serving.failed.find((f) => f.role === s.role && f.name === s.name);
            return {
              role: s.role,
              name: s.name,
              version: s.version,
              urls: s.urls.map((u) => u.url),
              state: failed ? ('failed' as const) : ('deployed' as const),
              ...(failed && { code: failed.code, diagnostics: failed.diagnostics }),
            };
          }),
          routes: serving.routes,
        },
      };
    });
  }

  /** `postern explain` against what this gateway serves now (GatewayHandle). */
  async explain(request: ExplainRequest): Promise<Record<string, unknown>> {
    const { method, url, user, groups, headers } = request;
    return { ...(await explain(this, method, url, { user, groups, headers })) };
  }

  get settings(): GatewaySettings {
    return this.home.settings;
  }

  /** `https://127.0.0.1:8443/gateway` (the address actually bound). */
  get url(): string {
    const a = this.#address!;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
    return `${this.settings.ssl.enabled ? 'https' : 'http'}://${host}:${a.port}/${this.settings.path}`;
  }

  get port(): number {
    return this.#address!.port;
  }

  /** What the listener is bound to: `0.0.0.0:8443` and whether only this machine can reach it. */
  get bound(): { address: string; loopbackOnly: boolean } {
    const a = this.#address!;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    const loopbackOnly = a.address === '::1' || a.address.startsWith('127.');
    return { address: `${host}:${a.port}`, loopbackOnly };
  }

  /** Rescans conf/ at once (tests use it instead of waiting for the watcher). */
  async rescan(): Promise<void> {
    for (const m of this.#monitors) await m.scan();
  }

  /** Reads, checks and deploys one topology file. Returns true when it now serves. */
  deployFile(file: string): boolean {
    const name = topologyName(file);
    const duplicate = this.#duplicate(file, name);
    if (duplicate) return this.#rejected(name, file, [duplicate]);
    const result = this.#compile(readTopologyFile(file), this.#sharedAcrossDeployments);
    const { diagnostics } = result;
    if (!result.deployment) return this.#rejected(name, file, diagnostics);
    for (const d of diagnostics) logDiagnostic(this.configLog, d);
    const previous = this.server.swap(name, result.deployment);
    this.status.set(name, { file, deployed: true, deployedAt: result.deployment.deployedAt, diagnostics });
    previous
      ?.retire('redeploy')
      .catch((err) => this.log.warn({ err }, `retiring the previous "${name}" failed`));
    const failed = result.deployment.failed;
    this.configLog[failed.length > 0 ? 'warn' : 'info'](
      {
        topology: name,
        routes: result.deployment.routes.length,
        file,
        ...(failed.length > 0 && { failedServices: failed.map((f) => f.label) }),
      },
      `${previous ? 'redeployed' : 'deployed'} topology ${name}${
        failed.length > 0 ? ` without ${failed.map((f) => f.label).join(', ')} (did not deploy)` : ''
      }`,
    );
    for (const f of failed) {
      this.recentErrors.record({
        kind: 'deployment',
        topology: name,
        service: f.role,
        message: `service ${f.label} of topology ${name} did not deploy; it answers 503 ${f.code}`,
        diagnostics: f.diagnostics.map(formatDiagnostic),
      });
    }
    if (deploymentEvents.hasSubscribers) {
      deploymentEvents.publish({
        event: previous ? 'redeployed' : 'deployed',
        topology: name,
        home: this.home.layout.home,
        file,
        errors: diagnostics.filter((d) => d.severity === 'error').length,
        warnings: diagnostics.filter((d) => d.severity === 'warning').length,
      } satisfies DeploymentEvent);
    }
    return true;
  }

  undeploy(name: string): void {
    const previous = this.server.swap(name, undefined);
    this.status.delete(name);
    if (previous) {
      previous.retire('undeploy').catch((err) => this.log.warn({ err }, `retiring "${name}" failed`));
      this.configLog.info({ topology: name }, `undeployed topology ${name}`);
    }
    if (deploymentEvents.hasSubscribers) {
      deploymentEvents.publish({
        event: 'undeployed',
        topology: name,
        home: this.home.layout.home,
        errors: 0,
        warnings: 0,
      } satisfies DeploymentEvent);
    }
  }

  /**
   * Checks a topology exactly as {@link deployFile} would deploy it, from its text, as if it were `file` (the
   * diagnostics name that file), and changes nothing: the trial deployment is compiled with state of its own and
   * retired at once. Returns every diagnostic; the topology would deploy when none is an error.
   */
  async checkTopology(file: string, source: string): Promise<Diagnostic[]> {
    const duplicate = this.#duplicate(file, topologyName(file));
    if (duplicate) return [duplicate];
    const result = this.#compile(readTopologySource(file, source), new Map());
    // 'redeploy': nothing replaced it, but its retirement must not close what the serving deployment holds.
    await result.deployment?.retire('redeploy');
    return result.diagnostics;
  }

  async checkTopologyModel(read: {
    topology?: Topology;
    diagnostics: readonly Diagnostic[];
  }): Promise<Diagnostic[]> {
    const result = this.#compile({ ...read, diagnostics: [...read.diagnostics] }, new Map());
    await result.deployment?.retire('redeploy');
    return result.diagnostics;
  }

  /** The error for a topology whose name another file of conf/topologies gives too, if there is one. */
  #duplicate(file: string, name: string): Diagnostic | undefined {
    const twin = siblingsWithName(this.home.layout.topologies, name).filter((f) => f !== file);
    if (twin.length === 0) return undefined;
    return {
      file,
      line: 1,
      column: 1,
      severity: 'error',
      message: `duplicate topology "${name}": also defined by ${twin.join(', ')}`,
    };
  }

  /**
   * Compiles what was read from a topology file, the same way for a deployment and for a check; the diagnostics
   * are the reading's and the compilation's. `sharedAcrossDeployments` is the state kept across deployments (a check's own).
   */
  #compile(
    read: ReturnType<typeof readTopologyFile>,
    sharedAcrossDeployments: Map<string, unknown>,
  ): { diagnostics: Diagnostic[]; deployment?: Deployment } {
    // Present unless an error is the topology's own; errors of single services fail those services alone.
    if (!read.topology) return { diagnostics: read.diagnostics };
    const { settings, registry, catalog, layout } = this.home;
    const result = compileDeployment({
      topology: withAliases(read.topology, this.#demoAliases),
      catalog,
      settings,
      registry,
      masterSecret: this.#masterSecret,
      home: layout.home,
      audit: this.audit,
      sharedAcrossDeployments,
      gateway: this,
      serviceErrors: read.diagnostics,
      applicationDirs: applicationDirs(layout),
    });
    return { diagnostics: [...read.diagnostics, ...result.diagnostics], deployment: result.deployment };
  }

  /** GatewayHandle.watchFile: a users file, reread when it changes and on SIGHUP. */
  watchFile(file: string, reload: () => FileReload): () => void {
    return this.#files.watch(file, reload);
  }

  /** Rereads the files deployments watch whose bytes changed (SIGHUP does, with gateway-site). */
  reloadFiles(): void {
    this.#files.reloadAll();
  }

  #fileReloaded(file: string, result: FileReload): void {
    for (const d of result.diagnostics) logDiagnostic(this.configLog, d);
    if (result.ok) this.configLog.info({ file, type: 'reload' }, `${file} reloaded: ${result.summary}`);
    else this.configLog.error({ file, type: 'reload' }, `${file} not reloaded: ${result.summary}`);
  }

  /** Proxied WebSockets open now, by topology (every deployment of it, as counted against its limit). */
  openWebSockets(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, value] of this.#sharedAcrossDeployments) {
      if (!key.startsWith('websocket-open:')) continue;
      const open = (value as { open?: number }).open ?? 0;
      out.set(key.slice('websocket-open:'.length), open);
    }
    return out;
  }

  /** Records into {@link recentErrors} what goes wrong at runtime: backends going down, 5xx answers. */
  #watchErrors(): void {
    const onHealth = (message: unknown) => {
      const e = message as BackendHealthEvent;
      if (!this.status.has(e.topology)) return;
      // Every change of a backend's health in gateway.log: down as a warning, back up as information.
      (e.state === 'down' ? this.log.warn : this.log.info).call(
        this.log,
        {
          type: 'backend-health',
          topology: e.topology,
          service: e.service,
          url: e.url,
          state: e.state,
          source: e.source,
          reason: e.reason,
        },
        `${e.topology}/${e.service} backend ${e.url} is ${e.state}${e.reason ? `: ${e.reason}` : ''} (${e.source === 'check' ? 'health check' : e.worker !== undefined ? `a request on worker ${e.worker}` : 'a request'})`,
      );
      // A mark relayed from another worker is that worker's recent error, not this one's too.
      if (e.state !== 'down' || e.worker !== undefined) return;
      this.recentErrors.record({
        kind: 'backend-down',
        topology: e.topology,
        service: e.service,
        message: `${e.service} backend ${e.url} is down${e.reason ? `: ${e.reason}` : ''}`,
      });
    };
    const onRequest = (message: unknown) => {
      const e = message as RequestEvent;
      if (e.status < 500 || e.topology === undefined || !this.server.deployments.has(e.topology)) return;
      this.recentErrors.record({
        kind: 'response',
        topology: e.topology,
        service: e.service,
        status: e.status,
        message: `${e.method ?? ''} answered ${e.status}${e.service ? ` (${e.service})` : ''}`.trim(),
      });
    };
    backendHealthEvents.subscribe(onHealth);
    requestEvents.subscribe(onRequest);
    const unwatch = () => {
      backendHealthEvents.unsubscribe(onHealth);
      requestEvents.unsubscribe(onRequest);
    };
    this.#unwatchErrors = unwatch;
  }

  /**
   * Rereads the service definitions and redeploys every topology, as Knox does when a definition changes.
   * Topologies that no longer deploy keep their previous deployment.
   */
  reloadDefinitions(): void {
    const { catalog, diagnostics } = loadServiceDefinitions(definitionDirs(this.home.layout, this.settings));
    for (const d of diagnostics) logDiagnostic(this.configLog, d);
    this.home.catalog = catalog;
    this.configLog.info('service definitions changed; redeploying topologies');
    for (const file of listFiles(this.home.layout.topologies, TOPOLOGY_EXTENSIONS)) this.deployFile(file);
  }

  /** Polls the non-bundled definition directories once a second (they are small trees). */
  #watchDefinitions(): void {
    const dirs = definitionDirs(this.home.layout, this.settings).filter((d) => d.source !== 'bundled');
    this.#definitionsStamp = definitionsStamp(dirs.map((d) => d.dir));
    this.#definitionsPoll = setInterval(() => {
      const stamp = definitionsStamp(dirs.map((d) => d.dir));
      if (stamp === this.#definitionsStamp) return;
      this.#definitionsStamp = stamp;
      this.reloadDefinitions();
    }, 1000);
    this.#definitionsPoll.unref();
  }

  /**
   * Rereads the files deployments watch (users files: {@link reloadFiles}), then `conf/gateway-site.xml` (SIGHUP),
   * and applies what a running gateway safely can (gateway/site-reload.ts):
   * settings the deployments are compiled from take effect by redeploying every topology; listener, TLS,
   * plugins and exporters keep their running values until a restart. A file with errors changes nothing. Logs
   * which properties were reloaded and which need a restart (names only: values can be secrets).
   */
  reloadSite(): SiteReload {
    // The files deployments read (users files) are reread whatever gateway-site holds.
    this.reloadFiles();
    const { siteFile, topologies } = this.home.layout;
    let next: GatewaySettings;
    try {
      next = { ...loadGatewaySite(existsSync(siteFile) ? siteFile : undefined), ...this.#overrides };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const d of err.diagnostics) logDiagnostic(this.configLog, d);
      this.configLog.error(
        { file: siteFile },
        'gateway-site was not reloaded: it has errors; the running settings stay',
      );
      lifecycle({ event: 'reload-failed' });
      return { ok: false, reloaded: [], restartNeeded: [] };
    }
    for (const d of next.warnings) logDiagnostic(this.configLog, d);
    const changes = compareSettings(this.settings, next);
    const { reloaded, restartNeeded } = changes;
    this.home.settings = changes.settings;
    this.server.reconfigure(changes.settings);
    if (reloaded.includes('postern.log.level') && !process.env.POSTERN_LOG_LEVEL) {
      this.log.level = changes.settings.logLevel ?? 'info';
    }
    if (changes.redeploy) {
      for (const file of listFiles(topologies, TOPOLOGY_EXTENSIONS)) this.deployFile(file);
    }
    const message =
      reloaded.length + restartNeeded.length === 0
        ? 'gateway-site reloaded: nothing changed'
        : `gateway-site reloaded: ${reloaded.length > 0 ? `applied ${reloaded.join(', ')}` : 'nothing applied'}${
            restartNeeded.length > 0 ? `; a restart is needed for ${restartNeeded.join(', ')}` : ''
          }`;
    (restartNeeded.length > 0 ? this.configLog.warn : this.configLog.info).call(
      this.configLog,
      { type: 'reload', reloaded, restartNeeded, redeployed: changes.redeploy },
      message,
    );
    lifecycle({ event: 'reloaded', reloaded, restartNeeded });
    return { ok: true, reloaded, restartNeeded };
  }

  /** Stops at once waiting for nothing but requests in flight (see {@link shutdown}); for tests and errors. */
  async close(): Promise<void> {
    await this.shutdown(Number.POSITIVE_INFINITY);
  }

  /**
   * SIGTERM: readiness turns 503, the listener stops accepting, requests in flight finish within `graceMs`
   * (`postern.shutdown.grace`; then their connections are cut), WebSockets are closed with 1001, pools and
   * exporters close (pending traces are flushed). Idempotent. Resolves with the number of requests cut.
   */
  shutdown(graceMs = this.settings.shutdownGraceMs): Promise<number> {
    this.#stopping ??= this.#shutdown(graceMs);
    return this.#stopping;
  }

  async #shutdown(graceMs: number): Promise<number> {
    if (this.#definitionsPoll) clearInterval(this.#definitionsPoll);
    this.#ticketKeys?.stop();
    this.#unwatchErrors?.();
    for (const m of this.#monitors) m.close();
    this.#files.close();
    lifecycle({ event: 'draining' });
    const inflight = this.server.inflight;
    if (inflight > 0) this.log.info({ inflight, graceMs }, 'waiting for requests in flight');
    for (const s of this.home.registry.services()) {
      try {
        await s.stop?.(this.#serviceHost());
      } catch (err) {
        this.log.warn({ err: (err as Error).message, service: s.name }, 'stopping a service failed');
      }
    }
    const cut = await this.server.close(graceMs);
    if (cut > 0) this.log.warn({ cut, graceMs }, `grace period over: ${cut} request(s) cut`);
    try {
      await this.#closeTelemetry?.();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'closing telemetry failed');
    }
    await this.#closeDemos?.();
    try {
      await this.tokenState.close();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'closing the token state store failed');
    }
    await this.#releaseState?.();
    this.log.info({ cut }, 'postern stopped');
    lifecycle({ event: 'stopped' });
    return cut;
  }

  #rejected(name: string, file: string, diagnostics: Diagnostic[]): boolean {
    for (const d of diagnostics) logDiagnostic(this.configLog, d);
    const serving = this.server.deployments.has(name);
    this.status.set(name, { file, deployed: false, diagnostics });
    this.recentErrors.record({
      kind: 'deployment',
      topology: name,
      message: serving
        ? `topology ${name} was not redeployed; the previous deployment keeps serving`
        : `topology ${name} was not deployed`,
      diagnostics: diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic),
    });
    if (deploymentEvents.hasSubscribers) {
      deploymentEvents.publish({
        event: 'failed',
        topology: name,
        home: this.home.layout.home,
        file,
        errors: diagnostics.filter((d) => d.severity === 'error').length,
        warnings: diagnostics.filter((d) => d.severity === 'warning').length,
        serving,
      } satisfies DeploymentEvent);
    }
    this.configLog.error(
      { topology: name, file, errors: diagnostics.filter((d) => d.severity === 'error').length },
      serving
        ? `topology ${name} was not redeployed; the previous deployment keeps serving`
        : `topology ${name} was not deployed`,
    );
    return false;
  }

  #monitor(
    dir: string,
    extensions: readonly string[],
    onChanges: (changes: FileChange[]) => void,
    extra?: { requireContentChange?: boolean },
  ): DirectoryMonitor {
    const m = new DirectoryMonitor({ dir, extensions, onChanges, ...extra });
    this.#monitors.push(m);
    return m;
  }

  #onTopologies(changes: FileChange[]): void {
    for (const change of changes) {
      const name = topologyName(change.file);
      if (change.kind === 'deleted') {
        const remaining = siblingsWithName(this.home.layout.topologies, name);
        if (remaining.length === 1) this.deployFile(remaining[0]);
        else if (remaining.length === 0) this.undeploy(name);
      } else {
        this.deployFile(change.file);
      }
    }
  }

  #onDescriptors(changes: FileChange[]): void {
    for (const change of changes) {
      if (change.kind === 'deleted') {
        // Knox deletes the topology it generated from a descriptor when the descriptor goes.
        const generated = join(this.home.layout.topologies, `${topologyName(change.file)}.xml`);
        if (existsSync(generated) && isGenerated(generated)) unlinkSync(generated);
      } else {
        this.#generate(change.file);
      }
    }
  }

  #regenerateAll(): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.home.layout.descriptors);
    } catch {
      return;
    }
    for (const n of names) {
      if ((DESCRIPTOR_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase())) {
        this.#generate(join(this.home.layout.descriptors, n));
      }
    }
  }

  /** Writes `conf/topologies/{name}.xml` from a simple descriptor, as Knox does; the topology monitor deploys it. */
  #generate(descriptor: string): void {
    const { layout } = this.home;
    const read = readDescriptorFile(descriptor, layout.sharedProviders);
    const name = topologyName(descriptor);
    if (!read.topology) {
      this.#rejected(name, descriptor, read.diagnostics);
      return;
    }
    const target = join(layout.topologies, `${name}.xml`);
    if (existsSync(target) && !isGenerated(target)) {
      this.#rejected(name, descriptor, [
        {
          file: descriptor,
          line: 1,
          column: 1,
          severity: 'error',
          message: `descriptor would overwrite the hand-written topology ${target}`,
        },
      ]);
      return;
    }
    const xml = toTopologyXml(read.topology);
    if (existsSync(target) && readFileSync(target, 'utf8') === xml) return;
    writeFileSync(target, xml);
  }
}

/** The topology with the service URLs whose origin a demo backend moved pointed at where it is. */
function withAliases<T extends { services: { urls: { url: string }[] }[] }>(
  topology: T,
  aliases: ReadonlyMap<string, string>,
): T {
  if (aliases.size === 0) return topology;
  const move = (url: string) => {
    for (const [from, to] of aliases) {
      if (url === from || url.startsWith(`${from}/`)) return to + url.slice(from.length);
    }
    return url;
  };
  return {
    ...topology,
    services: topology.services.map((s) => ({ ...s, urls: s.urls.map((u) => ({ ...u, url: move(u.url) })) })),
  };
}

let buildInfo: { version: string; hash: string } | undefined;

/** The version in package.json and, from a git checkout, the commit HEAD names (best effort: `unknown`). */
function readBuildInfo(): { version: string; hash: string } {
  let version = 'unknown';
  let hash = 'unknown';
  try {
    version =
      (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ??
      version;
  } catch {
    // not from a package
  }
  try {
    let gitDir = join(REPO_ROOT, '.git');
    // A worktree's .git is a file naming its directory.
    if (statSync(gitDir).isFile())
      gitDir = readFileSync(gitDir, 'utf8')
        .replace(/^gitdir:\s*/, '')
        .trim();
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) hash = head;
    else {
      // A worktree keeps its refs in the common directory.
      const common = existsSync(join(gitDir, 'commondir'))
        ? join(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim())
        : gitDir;
      hash = readFileSync(join(common, head.slice(5)), 'utf8').trim();
    }
  } catch {
    // not a checkout, or a packed ref: unknown
  }
  return { version, hash: /^[0-9a-f]{40}$/.test(hash) ? hash : 'unknown' };
}

function listFiles(dir: string, extensions: readonly string[]): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => extensions.includes(extname(n).toLowerCase()))
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Names, sizes and times of every `{name}/{version}/*.xml` under the directories. */
function definitionsStamp(dirs: readonly string[]): string {
  const parts: string[] = [];
  for (const dir of dirs) {
    for (const name of safeList(dir)) {
      for (const version of safeList(join(dir, name))) {
        for (const file of safeList(join(dir, name, version))) {
          if (!file.endsWith('.xml')) continue;
          try {
            const st = statSync(join(dir, name, version, file));
            parts.push(`${name}/${version}/${file}:${st.size}:${st.mtimeMs}`);
          } catch {
            // removed meanwhile
          }
        }
      }
    }
  }
  return parts.sort().join('|');
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function topologyName(file: string): string {
  return basename(file, extname(file));
}

function siblingsWithName(dir: string, name: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => (TOPOLOGY_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase()))
      .filter((n) => basename(n, extname(n)) === name)
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

function isGenerated(file: string): boolean {
  try {
    return /<generated>\s*true\s*<\/generated>/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function lifecycle(event: LifecycleEvent): void {
  if (lifecycleEvents.hasSubscribers) lifecycleEvents.publish(event);
}

function logDiagnostic(log: Logger, d: Diagnostic): void {
  const line = formatDiagnostic(d);
  if (d.severity === 'error') log.error({ diagnostic: line }, line);
  else log.warn({ diagnostic: line }, line);
}

/**
 * The services' endpoints, checked against the gateway path: one below it would be shadowed by (or shadow) a
 * topology, so it stops the gateway from starting.
 */
function endpointsOutside(
  endpoints: ReadonlyMap<string, ServiceEndpoint>,
  gatewayPath: string,
): ReadonlyMap<string, ServiceEndpoint> {
  const prefix = `/${gatewayPath}`;
  for (const path of endpoints.keys()) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      throw new Error(`a service endpoint ${path} lies below the gateway path ${prefix}/`);
    }
  }
  return endpoints;
}
