/**
 * @module topology/check
 * Checks on a topology that do not depend on its file format: duplicate services and chains, backend URLs, chain
 * references. Each reader (XML, YAML, descriptor) runs them, so one mistake reads the same whatever the syntax.
 * Whether a role has a service definition or a provider is registered is deployment's business, not checked here.
 */
import type { DiagnosticSink, Position } from '../config/diagnostics.ts';
import { isAbsoluteUrl } from '../config/values.ts';
import { Catalog } from '../errors.ts';
import { serviceLabel, type Topology } from './model.ts';

/** The chain every service uses unless it names another; it exists without being declared. */
export const DEFAULT_CHAIN = 'default';

const URL_SCHEMES = ['http', 'https', 'ws', 'wss'] as const;

/** Whether a service URL can be dispatched to (http, https, ws, wss). */
export function isDispatchableUrl(url: string): boolean {
  return isAbsoluteUrl(url, URL_SCHEMES);
}

/** An absolute URL with a scheme and a host, of any scheme: what a service's `<url>` may hold. */
function isRegistryUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return (
    /^[a-z][a-z0-9+.-]*:$/.test(u.protocol) && (u.host !== '' || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+/i.test(url))
  );
}

const where = (p: Position) => `${p.file}:${p.line}:${p.column}`;

export function checkTopology(t: Topology, sink: DiagnosticSink): void {
  const services = new Map<string, Position>();
  for (const s of t.services) {
    // Knox keys services by role and name: the same role twice is fine only under different names.
    const key = `${s.role}\u0000${s.name ?? ''}`;
    const first = services.get(key);
    const label = s.name === undefined ? s.role : `${s.role} (name ${s.name})`;
    if (first) sink.error(s.pos, `duplicate service ${label}, first declared at ${where(first)}`);
    else services.set(key, s.pos);
  }

  // A service URL of another scheme (Knox's sandbox: NAMENODE hdfs://, JOBTRACKER rpc://, a thrift:// HIVE) is
  // registry-only: it feeds rewrite functions ($serviceAddr, $serviceHost …) and is never dispatched to
  // (deployment says so when such a service has routes). A bad URL fails its service alone (the topology deploys
  // the others). An application's <url> is a path below the topology where Knox mounts it (`static-app`, `/`).
  const urlError = (u: { url: string; pos: Position }, scope?: { service: string; code: string }) => {
    const ok = scope ? isRegistryUrl(u.url) : isAbsoluteUrl(u.url, URL_SCHEMES);
    if (!ok) sink.error(u.pos, `url must be an absolute http, https, ws or wss URL, found "${u.url}"`, scope);
  };
  for (const s of t.services) {
    for (const u of s.urls) urlError(u, { service: serviceLabel(s), code: Catalog.serviceBadUrl.code });
  }
  for (const u of t.applications.flatMap((a) => a.urls)) {
    const path = u.url.replace(/^\/+|\/+$/g, '');
    const segment = /^[A-Za-z0-9._~!$&'()*+,;=@%-]+$/;
    if (path !== '' && path.split('/').some((s) => !segment.test(s) || s === '.' || s === '..')) {
      sink.error(
        u.pos,
        `application url must be a path below the topology (where it is mounted), found "${u.url}"`,
      );
    }
  }

  const chains = new Map<string, Position>();
  for (const c of t.chains) {
    const first = chains.get(c.name);
    if (first) sink.error(c.pos, `duplicate chain "${c.name}", first declared at ${where(first)}`);
    else chains.set(c.name, c.pos);
  }
  for (const s of t.services) {
    const ref = s.chainRef;
    if (ref && ref.name !== DEFAULT_CHAIN && !chains.has(ref.name)) {
      sink.error(ref.pos, `service ${s.role} refers to undeclared chain "${ref.name}"`);
    }
  }
}
