/**
 * @module config/settings-table
 * Every gateway-site property postern reads, declared once: its name, default, accepted syntax and meaning, at
 * the field of the settings object it lands on. Knox's names and defaults (its `GatewayConfigImpl`) for the
 * properties Knox has; `postern.*` for postern's own. The typed `GatewaySettings`, the validation at each
 * `<value>` (config/gateway-site.ts) and docs/settings.md (config/settings-doc.ts, `node scripts/gen-settings-doc.ts`)
 * all come from this table.
 */

import {
  bool,
  duration,
  family,
  ignored,
  int,
  intIn,
  ipList,
  list,
  oneOf,
  optionalDuration,
  optionalOneOf,
  optionalText,
  type SettingsTable,
  setting,
  text,
} from './setting.ts';
import { splitList } from './values.ts';

const INT_MAX = 2147483647;

/** `gateway.service.tokenstate.impl`: Knox's class names (and postern's short names) → postern's stores. */
export const TOKEN_STATE_IMPLS = {
  sqlite: 'sqlite',
  memory: 'memory',
  jdbc: 'jdbc',
  redis: 'redis',
  'org.apache.knox.gateway.services.token.impl.DerbyDBTokenStateService': 'sqlite',
  'org.apache.knox.gateway.services.token.impl.AliasBasedTokenStateService': 'sqlite',
  'org.apache.knox.gateway.services.token.impl.DefaultTokenStateService': 'memory',
  'org.apache.knox.gateway.services.token.impl.JDBCTokenStateService': 'jdbc',
} as const;
export type TokenStateImpl = (typeof TOKEN_STATE_IMPLS)[keyof typeof TOKEN_STATE_IMPLS];

function tokenStateImpl(text: string): TokenStateImpl | undefined {
  const t = text.trim();
  if (t === '') return 'sqlite';
  const key = Object.keys(TOKEN_STATE_IMPLS).find((k) => k.toLowerCase() === t.toLowerCase());
  return key === undefined ? undefined : TOKEN_STATE_IMPLS[key as keyof typeof TOKEN_STATE_IMPLS];
}
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const absolutePath = (key: string, fallback: string, doc: string) =>
  setting(
    key,
    fallback,
    (t) => (/^\/[^?#\s]*$/.test(t.trim()) ? t.trim() : undefined),
    'a path starting with /',
    doc,
  );

/** An absolute URL whose scheme matches `scheme`; unset by default unless `fallback` is given. */
const urlSetting = <T extends string | undefined>(
  key: string,
  fallback: T,
  scheme: RegExp | undefined,
  expected: string,
  doc: string,
) =>
  setting<string | T>(
    key,
    fallback,
    (t) => (URL.canParse(t.trim()) && (!scheme || scheme.test(t.trim())) ? t.trim() : undefined),
    expected,
    doc,
  );

const headerPairs = (key: string, doc: string) =>
  setting<ReadonlyMap<string, string>>(
    key,
    new Map(),
    (t) => {
      const map = new Map<string, string>();
      for (const pair of splitList(t, /,/)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) return undefined;
        map.set(pair.slice(0, eq).trim().toLowerCase(), pair.slice(eq + 1).trim());
      }
      return map;
    },
    'name=value pairs separated by commas',
    doc,
  );

export const SETTINGS = {
  host: text(
    'gateway.host',
    '0.0.0.0',
    'Address the gateway listens on (Knox accepts a comma-separated list; kept as written).',
  ),
  port: int('gateway.port', 8888, 0, 65535, 'Port the gateway listens on (0 picks a free one).'),
  path: setting(
    'gateway.path',
    'gateway',
    (t) => t.trim().replace(/^\/+|\/+$/g, ''),
    'a path',
    'First URL segment of every topology URL, before the topology name (slashes around it are dropped).',
  ),
  ssl: {
    enabled: bool('ssl.enabled', true, 'Serve HTTPS; false serves plain HTTP.'),
    certificatePath: optionalText(
      'gateway.tls.certificate.path',
      "postern: the gateway's PEM certificate (chain); with `gateway.tls.key.path`, used instead of the keystore.",
    ),
    keyPath: optionalText('gateway.tls.key.path', "postern: the gateway's PEM private key."),
    keystorePath: optionalText(
      'gateway.tls.keystore.path',
      "The gateway's identity keystore.",
      '`data/security/keystores/gateway.jks`',
    ),
    keystoreType: text(
      'gateway.tls.keystore.type',
      'JKS',
      'Type of the identity keystore: JKS or PKCS12 (JCEKS is refused with the command that converts it).',
    ),
    keystorePasswordAlias: text(
      'gateway.tls.keystore.password.alias',
      'gateway-identity-keystore-password',
      "Alias of the identity keystore's password.",
    ),
    keyAlias: text(
      'gateway.tls.key.alias',
      'gateway-identity',
      "Alias of the gateway's key in the keystore.",
    ),
    keyPassphraseAlias: text(
      'gateway.tls.key.passphrase.alias',
      'gateway-identity-passphrase',
      "Alias of the key's passphrase (JKS); when the alias is not set, the keystore password.",
    ),
    includeProtocols: list(
      'ssl.include.protocols',
      [],
      'TLS protocols offered (JSSE names: `TLSv1.2`, `TLSv1.3`); empty means all. An exclusion wins; postern never offers less than TLSv1.2, and lists that leave nothing (or an unknown name) are an error.',
      /[,|]/,
    ),
    excludeProtocols: list(
      'ssl.exclude.protocols',
      ['SSLv3'],
      'TLS protocols refused (wins over the include list).',
      /[,|]/,
    ),
    includeCiphers: list(
      'ssl.include.ciphers',
      [],
      "Cipher suites offered: regular expressions matching a suite's whole IANA/JSSE name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, `.*_GCM_.*`) or OpenSSL name, as Jetty's; empty means the runtime's defaults. A protocol none of the chosen suites belongs to is not offered.",
      /[,|]/,
    ),
    excludeCiphers: list(
      'ssl.exclude.ciphers',
      [],
      'Cipher suites refused (patterns as for the include list; wins over it).',
      /[,|]/,
    ),
    ticketKeyRotationMs: duration(
      'postern.tls.ticket.key.rotation',
      3_600_000,
      'postern: how often the key that encrypts TLS session tickets is replaced (one key for all workers, made in memory, never stored). A ticket sealed under the key before is not read after a rotation: that client does one full handshake. 0: never (the key lives as long as the process).',
    ),
    ticketKeyShared: bool(
      'postern.tls.ticket.key.shared',
      false,
      "postern: share the session ticket key among the nodes through `postern.state.redis.url`, so that a client's TLS session resumes on whichever node a load balancer sends its next connection to. The key of each rotation period is made by the first node to ask and kept in Redis until that period ends (whoever reads Redis meanwhile can read that period's tickets: use `rediss://` and a password). Needs a rotation period; Redis unreachable, each node makes its own key until it is back. Needs a restart.",
    ),
    renegotiation: bool(
      'ssl.renegotiation',
      false,
      "Allow client-initiated TLS renegotiation. Knox's default is true; postern refuses it unless asked (a client could make the gateway redo handshakes at will).",
    ),
    clientAuthNeeded: bool(
      'gateway.client.auth.needed',
      false,
      'Require a client certificate (two-way TLS).',
    ),
    clientAuthWanted: bool(
      'gateway.client.auth.wanted',
      false,
      'Ask for a client certificate without requiring one.',
    ),
    clientAuthExclude: list(
      'gateway.client.auth.exclude',
      [],
      'Topologies exempt from client certificates (they need a port of their own, `gateway.port.mapping.*`).',
    ),
    truststorePath: optionalText(
      'gateway.truststore.path',
      'Trust for client certificates.',
      'the identity keystore',
    ),
    truststoreType: text('gateway.truststore.type', 'JKS', 'Type of the client-certificate truststore.'),
    truststorePasswordAlias: text(
      'gateway.truststore.password.alias',
      'gateway-truststore-password',
      "The gateway alias holding the truststore's password (a JKS or PKCS12 truststore; a PEM one needs none).",
    ),
    trustAllCerts: bool('gateway.trust.all.certs', false, 'Accept any client certificate.'),
  },
  httpclient: {
    maxConnections: int(
      'gateway.httpclient.maxConnections',
      32,
      1,
      INT_MAX,
      'Backend connections per dispatch client, per origin and in total (a service param of the same name without `gateway.` overrides it).',
    ),
    connectionTimeoutMs: duration(
      'gateway.httpclient.connectionTimeout',
      20_000,
      'Time to connect to a backend (service param `httpclient.connectionTimeout` overrides it).',
    ),
    socketTimeoutMs: duration(
      'gateway.httpclient.socketTimeout',
      20_000,
      'Time a backend may stay silent while sending its response (service param `httpclient.socketTimeout` overrides it).',
    ),
    truststorePath: optionalText(
      'gateway.httpclient.truststore.path',
      'Trust for https and wss backends; unset means the runtime and gateway trust.',
    ),
    truststoreType: text('gateway.httpclient.truststore.type', 'JKS', 'Type of the backend truststore.'),
    truststorePasswordAlias: text(
      'gateway.httpclient.truststore.password.alias',
      'gateway-httpclient-truststore-password',
      "The gateway alias holding the backend truststore's password (JKS or PKCS12; a PEM one needs none).",
    ),
  },
  xforwardedEnabled: bool(
    'gateway.xforwarded.enabled',
    true,
    'Add X-Forwarded-For/-Proto/-Host/-Port/-Server/-Context to backend requests.',
  ),
  xforwardedContextAppendServices: ignored(
    list(
      'gateway.xforwarded.header.context.append.servicename',
      ['LIVYSERVER'],
      'Services whose X-Forwarded-Context also names the service.',
    ),
    'X-Forwarded-Context is /{gateway.path}/{topology} for every service',
  ),
  frontendUrl: urlSetting(
    'gateway.frontend.url',
    undefined,
    undefined,
    'an absolute URL',
    "The public URL rewrite writes instead of the request's own (a gateway behind a load balancer).",
  ),
  trustedProxies: ipList(
    'postern.trusted.proxies',
    'The load balancers and proxies in front of the gateway: only a request from one of these addresses keeps the X-Forwarded-* headers it carries (its X-Forwarded-For is appended to), and its client is the address it forwarded for (X-Forwarded-For read from the right, past these proxies), which rate limits, the login throttle, IP ACLs and the logs then use. From anyone else they are replaced with what the gateway saw, so a client cannot tell a backend, or a policy, it came from elsewhere.',
  ),
  hostAllowlist: list(
    'postern.host.allowlist',
    [],
    "Host names clients may use to reach the gateway (case-insensitive, any port). A request naming another host is answered as if it had named gateway.frontend.url's host (or the listener's address), so a forged Host never reaches a rewritten Location, an SSO redirect or a redirect allow-list; with postern.host.strict it gets 400. Empty: any host.",
  ),
  hostStrict: bool(
    'postern.host.strict',
    false,
    "Answer 400 to a request whose Host is malformed or not in postern.host.allowlist, instead of answering it with the gateway's own host.",
  ),
  remoteIpHeaderName: ignored(
    text(
      'gateway.remote.ip.header.name',
      'X-Forwarded-For',
      "Header naming the client's address when the gateway is behind a proxy.",
    ),
    "the client's address is the connection's, or X-Forwarded-For's from postern.trusted.proxies",
  ),
  requestHeaderBufferBytes: int(
    'gateway.httpserver.requestHeaderBuffer',
    8192,
    1,
    INT_MAX,
    'Largest request header block accepted, in bytes (Kerberos and AD tokens often need more).',
  ),
  requestBufferBytes: int('gateway.httpserver.requestBuffer', 16384, 1, INT_MAX, 'Request buffer, in bytes.'),
  responseBufferBytes: ignored(
    int('gateway.httpserver.responseBuffer', 32768, 1, INT_MAX, 'Response buffer, in bytes.'),
    'responses stream with backpressure; Node sizes its own buffers',
  ),
  responseHeaderBufferBytes: ignored(
    int('gateway.httpserver.responseHeaderBuffer', 8192, 1, INT_MAX, 'Response header buffer, in bytes.'),
    'Node sizes its own response header buffer',
  ),
  http2Enabled: bool(
    'gateway.http2.enabled',
    true,
    'postern: offer HTTP/2 (ALPN `h2`) beside HTTP/1.1 on the TLS listener; WebSockets stay on HTTP/1.1, backends are spoken to over HTTP/1.1 (docs/http2.md). No effect without `ssl.enabled`.',
  ),
  idleTimeoutMs: int(
    'gateway.idle.timeout',
    300_000,
    0,
    SAFE_MAX,
    'Milliseconds a client connection may stay idle before it is closed.',
  ),
  serverHeaderEnabled: bool(
    'gateway.server.header.enabled',
    false,
    'Send `Server: postern` on every answer.',
  ),
  strictTransport: {
    enabled: bool(
      'gateway.strict.transport.enabled',
      false,
      "Send `Strict-Transport-Security` on every answer over TLS (a topology's WebAppSec `strict.transport.enabled` wins on that topology's routes).",
    ),
    option: text(
      'gateway.strict.transport.option',
      'max-age=31536000; includeSubDomains',
      'The `Strict-Transport-Security` value.',
    ),
  },
  customFederationHeaderName: text(
    'gateway.custom.federation.header.name',
    'SM_USER',
    'Header HeaderPreAuthFederationDispatch names the user in, towards another gateway.',
  ),
  dispatchWhitelist: optionalText(
    'gateway.dispatch.whitelist',
    'Backend URLs the covered services may be dispatched to: `;`-separated regexes, each matching the whole `scheme://host:port` of the backend URL; unset or `DEFAULT`: derived from the gateway host (its domain, else itself, else loopback); `HTTPS_ONLY`: the same, https only. A request to any other backend gets 400.',
  ),
  dispatchWhitelistServices: list(
    'gateway.dispatch.whitelist.services',
    [],
    'Service roles the dispatch whitelist applies to, besides KNOXSSO (always covered).',
  ),
  globalRulesServices: list(
    'gateway.global.rules.services',
    ['NAMENODE', 'JOBTRACKER', 'WEBHDFS', 'WEBHCAT', 'OOZIE', 'WEBHBASE', 'HIVE', 'RESOURCEMANAGER'],
    'Services whose rewrite rules apply to every service of a topology.',
  ),
  strictTopologyValidation: ignored(
    bool('gateway.strict.topology.validation', false, 'Validate topologies strictly.'),
    'topologies are always validated strictly: an unknown element is an error',
  ),
  topologyRedeployRequiresChanges: bool(
    'gateway.topology.redeploy.requires.changes',
    false,
    'Redeploy a topology only when its file changed in content, not just in time.',
  ),
  readOnlyOverrideTopologies: ignored(
    list('gateway.read.only.override.topologies', [], 'Topologies the admin API may not change.'),
    "postern's admin API does not check it",
  ),
  autoDeployTopologies: ignored(
    list('gateway.auto.deploy.topologies', ['manager', 'admin'], 'Topologies deployed automatically.'),
    'every topology in conf/topologies deploys; postern writes no manager or admin topology itself',
  ),
  defaultTopologyName: ignored(
    text('default.app.topology.name', 'homepage', 'Topology for URLs that omit the topology segment.'),
    'a URL without a topology segment is answered 404',
  ),
  portMapping: {
    enabled: bool(
      'gateway.port.mapping.enabled',
      true,
      'Serve the topologies named by `gateway.port.mapping.{topology}` on ports of their own.',
    ),
    ports: family(
      'gateway.port.mapping.',
      '{topology}',
      intIn(1, 65535),
      'an integer from 1 to 65535',
      'A port of its own serving that topology alone, at `https://host:{port}/` (paths with `/{gateway.path}/{topology}` work there too); needs `gateway.port.mapping.enabled`.',
    ),
  },
  scopeCookiesEnabled: bool(
    'gateway.scope.cookies.feature.enabled',
    false,
    "Scope backend cookies' Path to the topology.",
  ),
  adminUsers: list('gateway.knox.admin.users', [], 'Users ACLs name as `KNOX_ADMIN_USERS`.'),
  adminGroups: list('gateway.knox.admin.groups', [], 'Groups ACLs name as `KNOX_ADMIN_GROUPS`.'),
  websocketFeatureEnabled: bool(
    'gateway.websocket.feature.enabled',
    false,
    'Proxy WebSocket upgrades (without it, upgrades are refused).',
  ),
  websocket: {
    maxTextMessageSize: int(
      'gateway.websocket.max.text.size',
      INT_MAX,
      1,
      INT_MAX,
      'Largest text message relayed, in bytes (a service param of the same name overrides it).',
    ),
    maxBinaryMessageSize: int(
      'gateway.websocket.max.binary.size',
      INT_MAX,
      1,
      INT_MAX,
      'Largest binary message relayed, in bytes (a service param of the same name overrides it).',
    ),
    maxTextMessageBufferSize: ignored(
      int('gateway.websocket.max.text.buffer.size', 32768, 1, INT_MAX, 'Text message buffer, in bytes.'),
      'the ws library sizes its own buffers',
    ),
    maxBinaryMessageBufferSize: ignored(
      int('gateway.websocket.max.binary.buffer.size', 32768, 1, INT_MAX, 'Binary message buffer, in bytes.'),
      'the ws library sizes its own buffers',
    ),
    inputBufferSize: ignored(
      int('gateway.websocket.input.buffer.size', 4096, 1, INT_MAX, 'Input buffer, in bytes.'),
      'the ws library sizes its own buffers',
    ),
    asyncWriteTimeoutMs: int(
      'gateway.websocket.async.write.timeout',
      60_000,
      0,
      SAFE_MAX,
      'Milliseconds a write to a WebSocket may take (a service param of the same name overrides it).',
    ),
    idleTimeoutMs: int(
      'gateway.websocket.idle.timeout',
      300_000,
      0,
      SAFE_MAX,
      'Milliseconds a WebSocket may stay silent before it is closed (a service param of the same name overrides it).',
    ),
    maxWaitBufferCount: int(
      'gateway.websocket.max.wait.buffer.count',
      100,
      0,
      INT_MAX,
      'Backend messages queued before the client side is ready (a service param of the same name overrides it).',
    ),
    maxConnections: int(
      'postern.websocket.max.connections',
      10_000,
      1,
      INT_MAX,
      'postern: open WebSockets one deployment of a topology accepts (a service param of the same name overrides it).',
    ),
    perMessageDeflate: bool(
      'postern.websocket.permessage-deflate',
      true,
      'postern: negotiate permessage-deflate on each leg when both ends offer it (a service param of the same name overrides it).',
    ),
    compactAfterBurst: bool(
      'postern.websocket.compact.after.burst',
      false,
      'postern: once a burst of at least 100 WebSocket upgrades has settled (500 ms without one), run one compacting garbage collection at once, which returns the old-space memory their handshakes left (8–22 MiB after 1,000) at the cost of a pause of every connection of the process (45–580 ms measured) and recompiled handshake code. Without it (the default) the gateway lets the memory reducer of V8 see the quiet instead, which returns that memory within ~10–20 s of quiet, with incremental collections and at most one ordinary mark-compact while the process stays quiet (websocket/heap-settle).',
    ),
    handshakeTimeoutMs: optionalDuration(
      'postern.websocket.handshake.timeout',
      "postern: time the backend's WebSocket handshake may take (a service param of the same name overrides it).",
      'the value of `gateway.httpclient.connectionTimeout`',
    ),
  },
  plugins: list(
    'postern.plugins',
    [],
    'postern: npm package names or paths (relative to the home) whose modules register providers and dispatches.',
  ),
  kerberos: {
    secured: bool(
      'gateway.hadoop.kerberos.secured',
      false,
      'The backends are Kerberos-secured: the gateway authenticates to them with SPNEGO as the principal of `java.security.auth.login.config` and names the end user as `doAs` (not `user.name`).',
    ),
    krb5Conf: optionalText(
      'java.security.krb5.conf',
      "The krb5.conf the gateway's Kerberos library reads (as `KRB5_CONFIG`).",
      "the library's: `KRB5_CONFIG` or `/etc/krb5.conf`",
    ),
    loginConfig: optionalText(
      'java.security.auth.login.config',
      "The JAAS file whose `com.sun.security.jgss.initiate` entry names the gateway's `keyTab` and `principal` (Knox's `krb5JAASLogin.conf`); needed when `gateway.hadoop.kerberos.secured` is true.",
    ),
    debug: bool(
      'sun.security.krb5.debug',
      false,
      "Trace the Kerberos library (MIT's `KRB5_TRACE`) to the gateway's standard error.",
    ),
  },
  demoBackends: bool('postern.demo.backends.enabled', false, 'postern: start the built-in demo backends.'),
  serviceDefinitionDirs: list(
    'postern.services.dirs',
    [],
    'postern: more service-definition directories, searched after the bundled ones.',
  ),
  rewriteBodyMaxBytes: int(
    'postern.rewrite.body.maxBytes',
    1024 * 1024,
    1024,
    INT_MAX,
    'postern: the largest piece of a body a rewrite filter holds at once (an attribute value, a JSON string, a line of script); bodies stream, and a larger piece passes unchanged.',
  ),
  rewriteLeakGuard: oneOf(
    'postern.rewrite.leak.guard',
    ['off', 'report', 'rewrite'],
    'report',
    "postern: a backend origin of the topology still in a response's Location, Content-Location, Refresh, Link, Set-Cookie Domain or text body after the outbound rules: `report` counts and logs it (docs/ui-leaks.md), `rewrite` also maps it back to its gateway URL, `off` does neither.",
  ),
  rewriteLeakGuardBodies: oneOf(
    'postern.rewrite.leak.guard.bodies',
    ['filtered', 'text'],
    'filtered',
    "postern: which bodies the leak guard scans: `filtered`, those a body filter of the route rewrites anyway (the scan runs in the same pass, a few % of the filter); `text` also every uncompressed text body no filter reads (JSON APIs, Oozie's consoleUrl), which then goes through the body pipeline: tens of µs per small response (docs/ui-leaks.md).",
  ),
  /**
   * What a client may hold or cause without doing anything useful (docs/security.md "Security model › Limits"). Knox names no
   * connection cap, body timeout or login throttle, so these are `postern.*` names; 0 turns a cap or timeout off.
   */
  limits: {
    connectionsMax: int(
      'postern.connections.max',
      8192,
      0,
      INT_MAX,
      'postern: open client connections in total; a connection over it is closed when accepted (0: no cap).',
    ),
    connectionsPerAddress: int(
      'postern.connections.max.per.address',
      256,
      0,
      INT_MAX,
      'postern: open connections from one client address (behind a load balancer every client has its address: raise it or set 0).',
    ),
    tlsHandshakeTimeoutMs: duration(
      'postern.tls.handshake.timeout',
      10_000,
      "postern: a TLS handshake not finished by then is cut (0: Node's 120 s).",
    ),
    requestBodyIdleTimeoutMs: duration(
      'postern.request.body.idle.timeout',
      60_000,
      "postern: longest wait for the next byte of a request body while the gateway wants one (nginx's client_body_timeout); 408.",
    ),
    requestBodyMinRate: int(
      'postern.request.body.min.rate',
      256,
      0,
      INT_MAX,
      "postern: bytes per second a request body must average once the gateway has waited on it longer than the idle timeout (Jetty's minimum data rate); time the backend is not reading never counts; 408.",
    ),
    inflateMaxBytes: int(
      'postern.rewrite.body.inflate.maxBytes',
      64 * 1024 * 1024,
      0,
      SAFE_MAX,
      'postern: bytes a compressed response body may inflate to on the body-rewrite path; over it the body passes unrewritten (or its connection is cut once rewritten bytes went out).',
    ),
    inflateMaxRatio: int(
      'postern.rewrite.body.inflate.maxRatio',
      100,
      0,
      INT_MAX,
      'postern: inflated / compressed ratio a rewritten response body may reach, checked from the first 64 KiB decoded.',
    ),
    authFailuresPerAddress: int(
      'postern.auth.failures.per.address',
      10,
      0,
      INT_MAX,
      'postern: failed logins from one client address per window; then 429 with Retry-After, audited, before any password check.',
    ),
    authFailuresPerUser: int(
      'postern.auth.failures.per.user',
      20,
      0,
      INT_MAX,
      'postern: failed logins for one user name per window, from any address; then 429.',
    ),
    authFailureWindowMs: duration(
      'postern.auth.failures.window',
      60_000,
      'postern: the failed-login window.',
    ),
    authVerifyRatePerAddress: int(
      'postern.auth.verify.rate.per.address',
      10,
      0,
      INT_MAX,
      'postern: password hashes computed in the gateway (file realm cache misses) per client address and second; 429.',
    ),
  },
  channels: {
    layer: oneOf(
      'gateway.channels.layer',
      ['memory', 'backplane', 'redis'],
      'memory',
      'How CHANNELS nodes share group messages: `memory` (one node), `backplane` (a mesh of nodes) or `redis`.',
    ),
    secret: optionalText(
      'gateway.channels.broadcast.secret',
      "The backplane's shared secret (required for `backplane`).",
    ),
    peers: setting(
      'gateway.channels.broadcast.peers',
      [] as string[],
      (t) => {
        const urls = splitList(t, /,/).map((u) => u.replace(/\/+$/, ''));
        return urls.every((u) => /^(ws|wss|http|https):\/\/[^/?#]+$/i.test(u) && URL.canParse(u))
          ? urls
          : undefined;
      },
      'comma-separated base URLs such as ws://10.0.0.2:8443',
      'Base URLs of the other backplane nodes.',
    ),
    allowedAddresses: ipList(
      'gateway.channels.broadcast.allowed.addresses',
      "postern: addresses a backplane link may come from besides those of the peers' host names (peers behind NAT). A link from anywhere else is refused, whatever secret it carries.",
    ),
    reconnectMinMs: duration(
      'gateway.channels.broadcast.reconnect.min',
      250,
      "Shortest wait before reconnecting a backplane link (the exponential backoff's start).",
    ),
    reconnectMaxMs: duration(
      'gateway.channels.broadcast.reconnect.max',
      30_000,
      'Longest wait before reconnecting a backplane link (never below the shortest).',
    ),
    heartbeatMs: duration(
      'gateway.channels.broadcast.heartbeat',
      20_000,
      'Ping interval on backplane links; a missed pong ends the link.',
    ),
    linkQueueBytes: int(
      'gateway.channels.broadcast.queue.bytes',
      64 * 1024 * 1024,
      1024,
      SAFE_MAX,
      'Bytes a backplane link may hold unsent before it is dropped.',
    ),
    mutualTls: bool(
      'gateway.channels.broadcast.mtls',
      false,
      'Mutual TLS between nodes (wss peers, verified client certificates; needs `ssl.enabled` and `gateway.client.auth.wanted` or `.needed`).',
    ),
    truststorePath: optionalText(
      'gateway.channels.broadcast.truststore.path',
      'PEM CAs that peer certificates must chain to.',
    ),
    redisUrl: urlSetting(
      'gateway.channels.redis.url',
      undefined,
      /^rediss?:\/\//i,
      'a redis:// or rediss:// URL',
      'The Redis of the `redis` layer (`redis://host:6379/0`, `rediss://` for TLS).',
    ),
    clientQueueBytes: int(
      'gateway.channels.client.queue.bytes',
      4 * 1024 * 1024,
      1024,
      SAFE_MAX,
      'Bytes a subscriber may hold unsent before it is closed as slow.',
    ),
  },
  metrics: {
    enabled: bool('postern.metrics.enabled', false, 'postern: serve Prometheus metrics.'),
    path: absolutePath(
      'postern.metrics.path',
      '/metrics',
      'postern: path of the metrics (outside `/{gateway.path}/`).',
    ),
    host: text(
      'postern.metrics.host',
      '127.0.0.1',
      "postern: address of the metrics' own plain-HTTP listener.",
    ),
    port: int(
      'postern.metrics.port',
      9464,
      0,
      65535,
      "postern: port of the metrics' listener (0 picks a free one).",
    ),
    onGatewayListener: bool(
      'postern.metrics.gateway.listener',
      false,
      "postern: serve the metrics on the gateway's own listener instead, to anyone who reaches it.",
    ),
  },
  tracing: {
    enabled: bool('postern.tracing.enabled', false, 'postern: OpenTelemetry tracing.'),
    endpoint: urlSetting(
      'postern.tracing.otlp.endpoint',
      'http://127.0.0.1:4318/v1/traces',
      /^https?:\/\//i,
      'an http:// or https:// URL',
      'postern: OTLP/HTTP traces URL.',
    ),
    headers: headerPairs(
      'postern.tracing.otlp.headers',
      'postern: `name=value` pairs sent with each export (an API key; never logged).',
    ),
    sampleRatio: setting(
      'postern.tracing.sample.ratio',
      1,
      (t) => {
        const n = Number(t.trim());
        return t.trim() !== '' && n >= 0 && n <= 1 ? n : undefined;
      },
      'a number from 0 to 1',
      "postern: share of new traces recorded (a caller's sampling decision wins).",
    ),
    serviceName: text('postern.tracing.service.name', 'postern', 'postern: the service name of the spans.'),
  },
  health: {
    enabled: bool('postern.health.enabled', true, 'postern: answer the liveness and readiness endpoints.'),
    livePath: absolutePath(
      'postern.health.path',
      '/healthz',
      'postern: the liveness endpoint (outside `/{gateway.path}/`).',
    ),
    readyPath: absolutePath(
      'postern.ready.path',
      '/readyz',
      'postern: the readiness endpoint (outside `/{gateway.path}/`).',
    ),
    readyStrict: bool(
      'postern.health.ready.strict',
      false,
      'postern: readiness is 503 while any topology has no deployment serving (a first deployment failed). By default a failed topology is reported in the body and the node stays ready: it serves what it served, and one bad file in a fleet with the same configuration does not take every node out.',
    ),
  },
  tokenState: {
    impl: setting(
      'gateway.service.tokenstate.impl',
      'sqlite' as TokenStateImpl,
      tokenStateImpl,
      `one of ${Object.keys(TOKEN_STATE_IMPLS).join(', ')} (Knox's class names or postern's short names)`,
      "Knox's token state service: where server-managed token state is kept. Knox's `DerbyDBTokenStateService` (its default) and `AliasBasedTokenStateService` map to `sqlite` (a file in `data/`, this node alone), `DefaultTokenStateService` to `memory` (lost at restart), `JDBCTokenStateService` to `jdbc` (PostgreSQL, `gateway.database.*`, shared by nodes); `redis` (`postern.token.state.redis.url`) is postern's, shared by nodes too. See docs/tokens.md.",
      '`sqlite`',
    ),
    serverManaged: bool(
      'gateway.knox.token.exp.server-managed',
      false,
      "Default of the KNOXTOKEN/KNOXSSO services' and JWT providers' `knox.token.exp.server-managed` param: tokens are recorded and checked against the token state (revocation, renewal, disabling).",
    ),
    evictionIntervalSeconds: int(
      'gateway.knox.token.eviction.interval',
      300,
      1,
      INT_MAX,
      'Seconds between two removals of expired token state.',
    ),
    evictionGraceSeconds: int(
      'gateway.knox.token.eviction.grace.period',
      86_400,
      0,
      INT_MAX,
      "Seconds past a token's expiration before its state is removed (until then a renewal says it expired instead of that it is unknown).",
    ),
    limitPerUser: setting(
      'gateway.knox.token.limit.per.user',
      10,
      (t) => (t.trim() === '-1' ? -1 : intIn(0, INT_MAX)(t)),
      'an integer from 0, or -1 for no limit',
      'Most KNOXTOKEN tokens one user may hold (KNOXSSO cookies not counted); the service param `knox.token.limit.per.user` overrides it.',
    ),
    hashAlgorithm: setting(
      'gateway.knox.token.hash.algorithm',
      'HmacSHA256',
      (t) =>
        ['HmacSHA256', 'HmacSHA384', 'HmacSHA512'].find((a) => a.toLowerCase() === t.trim().toLowerCase()),
      'HmacSHA256, HmacSHA384 or HmacSHA512',
      'The keyed hash passcodes are stored as (key: the alias `knox.token.hash.key`, else one derived from the master secret).',
    ),
    usersCanSeeAllTokens: list(
      'gateway.knox.token.management.users.can.see.all.tokens',
      [],
      "Users who may list every user's tokens (`getUserTokens?allTokens=true` or another `userName`) and enable, disable or revoke them.",
    ),
    cacheTtlMs: duration(
      'postern.token.state.cache.ttl',
      5000,
      'postern: longest time a node answers a token check from its cache: a token revoked or disabled on another node stops working within it (on the node that changed it, at once). 0 asks the store on every request.',
    ),
    cacheMax: int(
      'postern.token.state.cache.max',
      10_000,
      1,
      INT_MAX,
      "postern: most token states a node's cache holds (least recently used dropped first).",
    ),
    redisUrl: urlSetting(
      'postern.token.state.redis.url',
      undefined,
      /^rediss?:\/\//i,
      'a redis:// or rediss:// URL',
      'postern: the Redis of the `redis` token state (`redis://host:6379/0`, `rediss://` for TLS); password in the URL or the alias `postern_token_state_redis_password`.',
    ),
  },
  database: {
    type: setting(
      'gateway.database.type',
      'none',
      (t) => t.trim().toLowerCase() || undefined,
      'a database type',
      "The JDBC token state's database. postern speaks `postgresql` only (Knox also names mysql, oracle, derby); the user and password are the aliases `gateway_database_user` and `gateway_database_password`.",
    ),
    connectionUrl: optionalText(
      'gateway.database.connection.url',
      'A JDBC URL (`jdbc:postgresql://host:5432/knox?user=…`); when set, host, port and name are not used.',
    ),
    host: optionalText('gateway.database.host', 'The database host.'),
    port: int('gateway.database.port', 0, 0, 65535, 'The database port (0: the default, 5432).'),
    name: text('gateway.database.name', 'GATEWAY_DATABASE', 'The database name.'),
    sslEnabled: bool('gateway.database.ssl.enabled', false, 'TLS to the database.'),
    sslVerifyServerCert: bool(
      'gateway.database.ssl.verify.server.cert',
      true,
      "Verify the database's certificate (with TLS).",
    ),
    sslTruststoreFile: optionalText(
      'gateway.database.ssl.truststore.file',
      'PEM CA certificates the database certificate must chain to (Knox: a JKS truststore).',
    ),
  },
  signing: {
    keystoreName: optionalText(
      'gateway.signing.keystore.name',
      "A keystore file in `data/security/keystores/` whose key KNOXSSO and KNOXTOKEN sign with (RS256, so an RSA key), and JWTProvider and SSOCookieProvider verify with by default. Unset: postern's own RSA key, `data/security/token-signing-key.pem`, made on first use (Knox signs with the identity keystore's key instead).",
      "postern's own token key",
    ),
    keystoreType: text(
      'gateway.signing.keystore.type',
      'PKCS12',
      'JKS or PKCS12 (the file itself is probed; JCEKS is refused with the command that converts it).',
    ),
    keyAlias: text('gateway.signing.key.alias', 'gateway-identity', 'The key entry in the signing keystore.'),
    keystorePasswordAlias: text(
      'gateway.signing.keystore.password.alias',
      'signing.keystore.password',
      "The gateway alias holding the signing keystore's password.",
    ),
    keyPassphraseAlias: text(
      'gateway.signing.key.passphrase.alias',
      'signing.key.passphrase',
      "The gateway alias holding the signing key's passphrase; when unset, the keystore password.",
    ),
  },
  homepage: {
    hiddenTopologies: list(
      'knox.homepage.hidden.topologies',
      ['admin', 'manager', 'knoxsso', 'metadata', 'homepage'],
      "Topologies KNOX-METADATA's `topologies` leaves out (Knox's home page list); empty means Knox's default.",
    ),
    pinnedTopologies: list(
      'knox.homepage.pinned.topologies',
      [],
      "Topologies KNOX-METADATA's `topologies` marks pinned and lists first.",
    ),
    apiServicesViewVersion: text(
      'knox.homepage.api.services.view.version',
      'v1',
      "The `apiServicesViewVersion` KNOX-METADATA's `topologies` gives each topology (how Knox's home page lays out API services).",
    ),
    groupUiServices: bool(
      'knox.homepage.group.ui.services',
      false,
      "KNOX-METADATA's `topologies` lists a service once, with all its URLs, instead of once per backend URL.",
    ),
    profiles: family(
      'knox.homepage.profile.',
      '{profile}',
      (t) => splitList(t, /,/),
      'a comma-separated list of gpi_* elements and top_{topology} names',
      "A home page profile KNOX-METADATA's `profiles/{profile}` answers (Knox's `full`, `thin` and `token` are built in, and may be redefined).",
    ),
  },
  workers: setting<'auto' | number>(
    'postern.workers',
    'auto',
    (t) => {
      const v = t.trim().toLowerCase();
      if (v === 'auto') return 'auto';
      return /^[1-9][0-9]{0,3}$/.test(v) ? Number(v) : undefined;
    },
    '`auto` or a whole number from 1',
    'postern: worker processes `postern start` runs on the shared listener (`auto`, the default: one per available core; 1: a single process). Workers share sessions, rate limits, WebSocket counts, channels, metrics and readiness through the primary (sessions, rate limits and WebSocket counts through Redis instead with `postern.state.redis.url`; docs/workers.md). Needs a restart.',
  ),
  stateRedisUrl: urlSetting(
    'postern.state.redis.url',
    undefined,
    /^rediss?:\/\//i,
    'a redis:// or rediss:// URL',
    'postern: the Redis (6.2 or later) several nodes share sessions, rate limits and WebSocket counts through (`redis://:password@host:6379/0`, `rediss://` for TLS); unset, that state is per node (docs/workers.md, "Several nodes"). Redis unreachable: the requests that need it get 503. Needs a restart.',
  ),
  shutdownGraceMs: duration(
    'postern.shutdown.grace',
    30_000,
    'postern: how long requests in flight may take to finish after SIGTERM.',
  ),
  logLevel: optionalOneOf(
    'postern.log.level',
    LOG_LEVELS,
    "postern: the gateway log's level (`POSTERN_LOG_LEVEL` wins); reloaded by SIGHUP.",
    '`info`',
  ),
} as const satisfies SettingsTable;
