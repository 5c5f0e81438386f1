/**
 * @module urltemplate/join
 * A literal URL template put together from parts already parsed, for the request path: the gateway parses a
 * request's path below its topology once (to find the route), and the rewrite needs the whole inbound URL —
 * origin, gateway path, topology, that same path and query — as a literal template too. {@link joinLiteral} gives
 * exactly what {@link parseLiteral} would give for the whole text, without reading it again.
 */
import { boundedMemo } from './memo.ts';
import { parseLiteral } from './parser.ts';
import type { Segment } from './segment.ts';
import { Template } from './template.ts';

/** Origins and prefixes seen: few (a gateway's names and its topologies); the cap only bounds hostile Hosts. */
const origins = boundedMemo<Template>(256);
const prefixes = boundedMemo<readonly Segment[]>(256);

/**
 * The literal template of `origin + prefix + tail.original`, where `origin` is `scheme://authority` (no path),
 * `prefix` an absolute path without a trailing `/` (`/gateway/sandbox`) and `tail` the literal template of an
 * absolute path with its query (`/webhdfs/v1/tmp?op=LISTSTATUS`). The same as `parseLiteral(original)`;
 * `undefined` when the parts are not of that shape (then parse the whole text).
 */
export function joinLiteral(
  original: string,
  origin: string,
  prefix: string,
  tail: Template,
): Template | undefined {
  if (!tail.literal || !tail.isAbsolute || tail.hasScheme || tail.hasAuthority || tail.hasFragment)
    return undefined;
  if (prefix.charCodeAt(0) !== 47 || prefix.charCodeAt(prefix.length - 1) === 47) return undefined;
  const o = origins(origin, parseLiteral);
  if (!o.hasAuthority || o.isAuthorityOnly || o.path.length > 0 || o.hasQuery || o.hasFragment)
    return undefined;
  const p = prefixes(prefix, (text) => parseLiteral(text).path);
  const path = new Array<Segment>(p.length + tail.path.length);
  for (let i = 0; i < p.length; i++) path[i] = p[i];
  for (let i = 0; i < tail.path.length; i++) path[p.length + i] = tail.path[i];
  return new Template({
    original,
    literal: true,
    scheme: o.scheme,
    hasScheme: o.hasScheme,
    username: o.username,
    password: o.password,
    host: o.host,
    port: o.port,
    hasAuthority: true,
    isAuthorityOnly: false,
    path,
    isAbsolute: true,
    isDirectory: tail.isDirectory,
    query: tail.query as Map<string, Segment>,
    extra: tail.extra,
    hasQuery: tail.hasQuery,
    fragment: null,
    hasFragment: false,
  });
}
