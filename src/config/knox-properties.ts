/**
 * @module config/knox-properties
 * Every gateway-site property Knox defines, and what postern does with each: the names come from Knox's
 * `GatewayConfigImpl` and `GatewayConfig` (apache/knox at 6bdf64cdfd3cd10a0dc806d182171631d566a218; string
 * constants and literals, prefixes ending in `.`), plus the properties of Knox's stock gateway-site.xml that other
 * Knox classes read. A property is either in the settings table (config/settings-table.ts; implemented, or
 * accepted and marked `ignored` there), read by a provider (`READ_ELSEWHERE`), or not implemented (`NOT_IMPLEMENTED`,
 * with what postern does instead). gateway-site warns about each property of the last kind that a site file sets
 * (config/gateway-site.ts), and docs/knox-settings.md is rendered from this list (config/settings-doc.ts).
 */

/** Knox's gateway-site property names; a name ending in `.` is a prefix (a family of properties). */
export const KNOX_PROPERTIES: readonly string[] = [
  'default.app.topology.name',
  'gateway.application.path.alias.',
  'gateway.applications.dir',
  'gateway.auto.deploy.topologies',
  'gateway.client.auth.exclude',
  'gateway.client.auth.needed',
  'gateway.client.auth.wanted',
  'gateway.cloudera.manager.advanced.service.discovery.config.monitor.interval',
  'gateway.cloudera.manager.descriptors.monitor.interval',
  'gateway.cloudera.manager.service.discovery.api.version',
  'gateway.cloudera.manager.service.discovery.connect.timeout.ms',
  'gateway.cloudera.manager.service.discovery.excluded.role.types',
  'gateway.cloudera.manager.service.discovery.excluded.service.types',
  'gateway.cloudera.manager.service.discovery.maximum.retry.attemps',
  'gateway.cloudera.manager.service.discovery.read.timeout.ms',
  'gateway.cloudera.manager.service.discovery.repository.cache.entry.ttl',
  'gateway.cloudera.manager.service.discovery.role.fetch.strategy',
  'gateway.cloudera.manager.service.discovery.role.pagesize',
  'gateway.cloudera.manager.service.discovery.ssl.ciphers',
  'gateway.cloudera.manager.service.discovery.ssl.protocols',
  'gateway.cloudera.manager.service.discovery.write.timeout.ms',
  'gateway.cluster.config.monitor.',
  'gateway.config.refresh.interval',
  'gateway.credential.store.alg',
  'gateway.credential.store.type',
  'gateway.crypto.algorithm',
  'gateway.crypto.iteration.count',
  'gateway.crypto.key.length',
  'gateway.crypto.pbe.algorithm',
  'gateway.crypto.salt.size',
  'gateway.crypto.transformation',
  'gateway.custom.federation.header.name',
  'gateway.data.dir',
  'gateway.database.connection.url',
  'gateway.database.host',
  'gateway.database.name',
  'gateway.database.port',
  'gateway.database.ssl.enabled',
  'gateway.database.ssl.truststore.file',
  'gateway.database.ssl.truststore.type',
  'gateway.database.ssl.verify.server.cert',
  'gateway.database.type',
  'gateway.deployment.backup.ageLimit',
  'gateway.deployment.backup.versionLimit',
  'gateway.deployment.dir',
  'gateway.discovery.default.address',
  'gateway.discovery.default.cluster',
  'gateway.dispatch.whitelist',
  'gateway.dispatch.whitelist.services',
  'gateway.frontend.url',
  'gateway.gateway.conf.dir',
  'gateway.global.rules.services',
  'gateway.graphite.metrics.reporting.enabled',
  'gateway.graphite.metrics.reporting.frequency',
  'gateway.graphite.metrics.reporting.host',
  'gateway.graphite.metrics.reporting.port',
  'gateway.group.config.',
  'gateway.hadoop.conf.dir',
  'gateway.hadoop.kerberos.secured',
  'gateway.health.check.topologies',
  'gateway.host',
  'gateway.httpclient.connectionTimeout',
  'gateway.httpclient.cookieSpec',
  'gateway.httpclient.key.alias',
  'gateway.httpclient.key.passphrase.alias',
  'gateway.httpclient.keystore.password.alias',
  'gateway.httpclient.keystore.path',
  'gateway.httpclient.keystore.type',
  'gateway.httpclient.maxConnections',
  'gateway.httpclient.socketTimeout',
  'gateway.httpclient.truststore.password.alias',
  'gateway.httpclient.truststore.path',
  'gateway.httpclient.truststore.type',
  'gateway.httpclient.twoWaySsl.enabled',
  'gateway.httpserver.requestBuffer',
  'gateway.httpserver.requestHeaderBuffer',
  'gateway.httpserver.responseBuffer',
  'gateway.httpserver.responseHeaderBuffer',
  'gateway.idle.timeout',
  'gateway.incoming.xforwarded.enabled',
  'gateway.jdk.tls.ephemeralDHKeySize',
  'gateway.jetty.max.form.content.size',
  'gateway.jetty.max.form.keys',
  'gateway.jmx.metrics.reporting.enabled',
  'gateway.jwks.cache.refresh.interval',
  'gateway.jwks.cache.ttl',
  'gateway.jwks.outage.cache.ttl',
  'gateway.keystore.cache.entry.ttl',
  'gateway.keystore.cache.size.limit',
  'gateway.keystore.type',
  'gateway.knox.admin.groups',
  'gateway.knox.admin.users',
  'gateway.knox.token',
  'gateway.knox.token.eviction.grace.period',
  'gateway.knox.token.eviction.interval',
  'gateway.knox.token.exp.server-managed',
  'gateway.knox.token.hash.algorithm',
  'gateway.knox.token.limit.per.user',
  'gateway.knox.token.management.users.can.see.all.tokens',
  'gateway.knox.token.migration.archive.tokens',
  'gateway.knox.token.migration.include.expired.tokens',
  'gateway.knox.token.migration.progress.count',
  'gateway.knox.token.migration.skip',
  'gateway.knox.token.migration.verbose',
  'gateway.knox.token.permissive.validation',
  'gateway.knox.token.state.alias.persistence.interval',
  'gateway.ldap.backend.data.file',
  'gateway.ldap.base.dn',
  'gateway.ldap.bind.user',
  'gateway.ldap.enabled',
  'gateway.ldap.interceptor.',
  'gateway.ldap.interceptor.names',
  'gateway.ldap.port',
  'gateway.ldap.recursive.group.resolution',
  'gateway.ldap.recursive.group.resolution.max.depth',
  'gateway.ldap.roles.lookup.file.path',
  'gateway.ldap.roles.lookup.rest.api.endpoint',
  'gateway.ldap.roles.lookup.strategy',
  'gateway.ldap.ssl.enabled',
  'gateway.ldap.ssl.enabled.cipher.suites',
  'gateway.ldap.ssl.keystore.password.alias',
  'gateway.ldap.ssl.keystore.path',
  'gateway.metrics.enabled',
  'gateway.path',
  'gateway.port',
  'gateway.port.mapping.',
  'gateway.port.mapping.enabled',
  'gateway.proxyuser.services.ignore.doas',
  'gateway.read.only.override.providers',
  'gateway.read.only.override.topologies',
  'gateway.remote.alias.service.config.',
  'gateway.remote.alias.service.config.prefix',
  'gateway.remote.alias.service.enabled',
  'gateway.remote.config.monitor.client',
  'gateway.remote.config.monitor.client.allowUnauthenticatedReadAccess',
  'gateway.remote.config.monitor.db.cleanup.interval.seconds',
  'gateway.remote.config.monitor.db.poll.interval.seconds',
  'gateway.remote.config.registry',
  'gateway.remote.ip.header.name',
  'gateway.scope.cookies.feature.enabled',
  'gateway.security.dir',
  'gateway.self.signing.cert.alg',
  'gateway.server.header.enabled',
  'gateway.service.',
  'gateway.service.tokenstate.impl',
  'gateway.services.dir',
  'gateway.servlet.async.supported',
  'gateway.servlet.async.supported.topologies',
  'gateway.session.verification',
  'gateway.session.verification.expired.tokens.cleaning.period',
  'gateway.session.verification.non.privileged.user.limit',
  'gateway.session.verification.privileged.user.limit',
  'gateway.session.verification.privileged.users',
  'gateway.session.verification.unlimited.users',
  'gateway.signing.key.alias',
  'gateway.signing.key.passphrase.alias',
  'gateway.signing.keystore.name',
  'gateway.signing.keystore.password.alias',
  'gateway.signing.keystore.type',
  'gateway.strict.topology.validation',
  'gateway.strict.transport.enabled',
  'gateway.strict.transport.option',
  'gateway.threadpool.max',
  'gateway.tls.key.alias',
  'gateway.tls.key.passphrase.alias',
  'gateway.tls.keystore.password.alias',
  'gateway.tls.keystore.path',
  'gateway.tls.keystore.type',
  'gateway.tls.single.eku.enabled',
  'gateway.token.issuers.ignore.type.validation',
  'gateway.topology.redeploy.requires.changes',
  'gateway.trust.all.certs',
  'gateway.truststore.password.alias',
  'gateway.truststore.path',
  'gateway.truststore.type',
  'gateway.ui.banner.text',
  'gateway.webshell.audit.logging.enabled',
  'gateway.webshell.feature.enabled',
  'gateway.webshell.max.concurrent.sessions',
  'gateway.webshell.read.buffer.size',
  'gateway.websocket.JWT.validation.feature.enabled',
  'gateway.websocket.async.write.timeout',
  'gateway.websocket.feature.enabled',
  'gateway.websocket.idle.timeout',
  'gateway.websocket.input.buffer.size',
  'gateway.websocket.max.binary.buffer.size',
  'gateway.websocket.max.binary.size',
  'gateway.websocket.max.text.buffer.size',
  'gateway.websocket.max.text.size',
  'gateway.websocket.max.wait.buffer.count',
  'gateway.xforwarded.enabled',
  'gateway.xforwarded.header.context.append.servicename',
  'java.security.auth.login.config',
  'java.security.krb5.conf',
  'knox.global.logout.page.url',
  'knox.homepage.api.services.view.version',
  'knox.homepage.group.ui.services',
  'knox.homepage.hidden.topologies',
  'knox.homepage.logout.enabled',
  'knox.homepage.pinned.topologies',
  'knox.homepage.profile.',
  'ssl.enabled',
  'ssl.exclude.ciphers',
  'ssl.exclude.protocols',
  'ssl.include.ciphers',
  'ssl.include.protocols',
  'ssl.renegotiation',
  'sun.security.krb5.debug',
];

/** Knox properties that postern reads outside the settings table, and where. */
export const READ_ELSEWHERE: readonly { keys: readonly string[]; where: string }[] = [
  {
    keys: ['gateway.group.config.'],
    where: "HadoopGroupProvider's central group mapping (providers/identity-assertion/hadoop-group.ts)",
  },
];

/** Knox properties postern does not implement, by group, with what postern does instead. */
export const NOT_IMPLEMENTED: readonly { keys: readonly string[]; instead: string }[] = [
  {
    keys: [
      'gateway.cloudera.manager.',
      'gateway.cluster.config.monitor.',
      'gateway.discovery.default.',
      'gateway.config.refresh.interval',
    ],
    instead:
      'postern has no cluster discovery (Ambari, Cloudera Manager): descriptors list their service URLs',
  },
  {
    keys: ['gateway.remote.config.'],
    instead:
      'postern has no remote configuration registry or database: topologies, descriptors and provider configurations are files under conf/, watched for changes',
  },
  {
    keys: ['gateway.remote.alias.service.'],
    instead: "aliases live in the home's own credential stores (postern cli create-alias)",
  },
  {
    keys: ['gateway.database.ssl.truststore.type'],
    instead: 'gateway.database.ssl.truststore.file is a PEM file of CA certificates',
  },
  {
    keys: [
      'gateway.knox.token.migration.',
      'gateway.knox.token.permissive.validation',
      'gateway.knox.token.state.alias.persistence.interval',
      'gateway.knox.token',
    ],
    instead:
      'postern keeps token state in its token state store only (docs/tokens.md): there is nothing to migrate from the credential store, no alias persistence, and unknown tokens are always refused',
  },
  {
    keys: ['gateway.session.verification'],
    instead:
      'postern has no session verification; KNOXSSO cookies are checked against the token state instead',
  },
  { keys: ['gateway.webshell.'], instead: 'postern has no WebShell service' },
  {
    keys: ['knox.homepage.logout.enabled', 'knox.global.logout.page.url', 'gateway.ui.banner.text'],
    instead:
      "postern has no Knox homepage UI (its admin console is the ADMIN service's); KNOX-METADATA reads the other knox.homepage.* properties",
  },
  {
    keys: ['gateway.metrics.enabled', 'gateway.jmx.metrics.reporting.enabled', 'gateway.graphite.metrics.'],
    instead:
      'postern exports Prometheus metrics (postern.metrics.*) and OpenTelemetry traces (postern.tracing.*)',
  },
  {
    keys: [
      'gateway.data.dir',
      'gateway.security.dir',
      'gateway.services.dir',
      'gateway.applications.dir',
      'gateway.deployment.dir',
      'gateway.hadoop.conf.dir',
      'gateway.gateway.conf.dir',
    ],
    instead:
      'the directories are fixed below the home (conf/, data/, data/security/, data/services/, data/applications/); more service definitions come from postern.services.dirs',
  },
  {
    keys: ['gateway.deployment.backup.'],
    instead:
      'there are no WAR deployments to back up: a deployment is built in memory and replaced atomically',
  },
  {
    keys: ['gateway.threadpool.max', 'gateway.servlet.async.supported'],
    instead:
      'requests are served on an event loop with streaming bodies (no thread pool, no servlet async); concurrency is bounded by postern.connections.max',
  },
  {
    keys: ['gateway.jetty.max.form.'],
    instead:
      'bodies stream to the backend; a body read whole is bounded by gateway.httpserver.requestBuffer and the body limits',
  },
  {
    keys: ['gateway.crypto.'],
    instead:
      "encrypted query parameters use AES-256-GCM with per-topology keys derived from the master secret (HKDF-SHA256); Knox's PBE parameters do not apply",
  },
  {
    keys: ['gateway.credential.store.', 'gateway.keystore.type', 'gateway.keystore.cache.'],
    instead:
      "credential stores are postern's own AES-256-GCM files keyed from the master secret (docs/aliases.md); keystores are read once at start",
  },
  {
    keys: ['gateway.self.signing.cert.alg', 'gateway.tls.single.eku.enabled'],
    instead:
      'the certificate generated on first start is EC P-256 / SHA-256 for localhost, with serverAuth and clientAuth',
  },
  {
    keys: ['gateway.ldap.'],
    instead: "postern embeds no LDAP server (Knox's demo LDAP): point Shiro's realm at a directory",
  },
  {
    keys: ['gateway.jwks.'],
    instead: "JWKS are fetched and cached by each JWT provider (jose's remote key set), with its own timings",
  },
  {
    keys: ['gateway.httpclient.keystore.', 'gateway.httpclient.key.', 'gateway.httpclient.twoWaySsl.enabled'],
    instead:
      "with use-two-way-ssl a backend connection presents the gateway's own identity (dispatch/backend-tls.ts); there is no separate client keystore",
  },
  {
    keys: ['gateway.jdk.tls.ephemeralDHKeySize'],
    instead: "OpenSSL's defaults apply (ECDHE first; DHE with its built-in groups)",
  },
  {
    keys: ['gateway.incoming.xforwarded.enabled'],
    instead:
      "a client's X-Forwarded-* headers are kept, and its forwarded address believed (rate limits, ACLs, logs), only from postern.trusted.proxies",
  },
  {
    keys: ['gateway.httpclient.cookieSpec'],
    instead: 'the backend client keeps no cookie store: cookies pass between client and backend as sent',
  },
  {
    keys: ['gateway.health.check.topologies'],
    instead: 'the readiness endpoint (postern.ready.path) reports every topology',
  },
  {
    keys: ['gateway.proxyuser.services.ignore.doas', 'gateway.token.issuers.ignore.type.validation'],
    instead: 'the identity-assertion and federation providers decide this from their own params',
  },
  {
    keys: ['gateway.read.only.override.providers'],
    instead: 'shared provider configurations are files; the admin API does not change them',
  },
  {
    keys: ['gateway.service.'],
    instead: "postern's built-in services are registered by the registry, always on",
  },
  {
    keys: ['gateway.websocket.JWT.validation.feature.enabled'],
    instead: "a WebSocket upgrade runs its route's whole provider chain, JWT federation included",
  },
  { keys: ['gateway.application.path.alias.'], instead: 'postern has no application path aliases' },
];

const matches = (key: string, name: string) =>
  key.endsWith('.') ? name.startsWith(key) : name === key || name.startsWith(`${key}.`);

/** What postern does instead of the Knox property `name`, when it does not implement it. */
export function notImplemented(name: string): string | undefined {
  return NOT_IMPLEMENTED.find((g) => g.keys.some((k) => matches(k, name)))?.instead;
}

/** Where postern reads the Knox property `name` outside the settings table. */
export function readElsewhere(name: string): string | undefined {
  return READ_ELSEWHERE.find((g) => g.keys.some((k) => matches(k, name)))?.where;
}
