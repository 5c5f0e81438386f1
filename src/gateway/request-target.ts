/**
 * @module gateway/request-target
 * Splits a request target into gateway path, topology and the path below it, after bringing the path into the one
 * normal form that the route match, every path policy (Shiro `urls.*`, PathAcls) and the rewrite to the backend
 * all read — so a policy decides on the path the backend receives, however a client spells it.
 *
 * The normal form (docs/security.md, "Security model"):
 * - percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded (`%61dmin` → `admin`); other
 *   escapes stay, with upper-case hex digits (`%2f` → `%2F`); a malformed escape is refused;
 * - path parameters (`;…` to the end of a segment, what Tomcat and Jetty strip before resolving) are removed
 *   (`admin;x=1` → `admin`), for the policies and for the backend alike;
 * - empty segments are merged (`//` → `/`, as the rewrite's URL parser always did); a trailing `/` stays;
 * - refused with 400: a `#` anywhere (a request target has no fragment), a raw `\`, a dot segment (`.` or `..`)
 *   in any spelling — encoded, double-encoded (`%252e`), with path parameters (`..;`, `.;x`, `%2e%2e;`) or hidden
 *   behind an encoded separator (`..%2f`) — and encoded control characters. Backends decode differently, so the
 *   only safe form is one with none of them.
 * An encoded `/` or `\` (`%2F`, `%5C`, also double-encoded) is kept as data inside its segment, but a route
 * accepts it only when its service opts in with the param {@link ENCODED_SLASH_PARAM} = `true`
 * ({@link encodedSlashRefusal}); without it the request is refused with 400 after the route match.
 */

export interface RequestTarget {
  topology: string;
  /** Below the topology, normalised, starting with `/` (`/` when empty). */
  path: string;
  /** Without the `?`; '' when absent. Never normalised: the query is the backend's business. */
  query: string;
  /** Set when some segment holds an encoded `/` or `\` (`%2F`, `%5C`): the route must opt in. */
  encodedSlash?: true;
}

export type TargetResult =
  | { ok: true; target: RequestTarget }
  | { ok: false; reason: 'not-gateway' | 'bad-path' | 'no-topology' };

export type NormalizedPath = { ok: true; path: string; encodedSlash: boolean } | { ok: false; why: string };

/**
 * The service (or dispatch) param with which a route accepts encoded `/` and `\` in its paths (HBase row keys,
 * object-store keys): `postern.path.allowEncodedSlash` = `true`. Dot segments stay refused.
 */
export const ENCODED_SLASH_PARAM = 'postern.path.allowEncodedSlash';

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const ESCAPE = /%([0-9A-Fa-f]{2})/g;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A path that needs no normalising, but for dot segments (see normalizeRequestPath). */
const PLAIN_PATH = /^(?:(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@]+)+\/?|\/)$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;
/**
 * Characters that are never valid raw in a request target (RFC 3986: not unreserved, sub-delims, `:`, `@`, `/`,
 * `?`, `%`) but that Node's parser lets through: `"`, `<`, `>`, `` ` ``, `{`, `}`, `|`, `^` (it refuses DEL and
 * bytes above 0x7e itself). They are sent on percent-encoded, as a browser's URL parser would, so a backend or a log
 * viewer that reflects the path never sees raw markup characters.
 */
const NOT_URL = /["<>`{}|^]/g;

/** Percent-encodes the characters of {@link NOT_URL}. */
export function encodeNonUrlCharacters(text: string): string {
  return text.replace(NOT_URL, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Decodes a percent-escape when it stands for an unreserved character; otherwise upper-cases its hex digits. */
function normalizeEscape(_: string, hex: string): string {
  const c = String.fromCharCode(Number.parseInt(hex, 16));
  return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * What a segment could become at a backend that decodes once or more (a second proxy, `%252e`): up to three
 * decodings; one that fails stops there (after the first, a `%` is just a character).
 */
function decodedForms(segment: string): string {
  let decoded = segment;
  for (let i = 0; i < 3 && decoded.includes('%'); i++) {
    const next = safeDecode(decoded);
    if (next === undefined || next === decoded) break;
    decoded = next;
  }
  return decoded;
}

/** True when a piece of a decoded segment is `.` or `..` once its path parameters are cut off. */
function isDotSegment(piece: string): boolean {
  const semi = piece.indexOf(';');
  const name = semi < 0 ? piece : piece.slice(0, semi);
  return name === '.' || name === '..';
}

/**
 * The normal form of a request path (the part before `?`), or why it is refused.
 * @example normalizeRequestPath('/gateway/t//http/%61dmin;x=1/') // { ok: true, path: '/gateway/t/http/admin/', encodedSlash: false }
 */
export function normalizeRequestPath(raw: string): NormalizedPath {
  // Most paths are already in normal form: `/`-separated non-empty segments of plain characters (no `%`, `;`,
  // `\`, `#`, control or non-URL characters) none of which is `.` or `..`. Such a path is its own normal form.
  if (PLAIN_PATH.test(raw) && !DOT_SEGMENT.test(raw)) return { ok: true, path: raw, encodedSlash: false };
  return normalizeEveryPath(raw);
}

/** {@link normalizeRequestPath} without its shortcut for paths already normal (exported for its test). */
export function normalizeEveryPath(raw: string): NormalizedPath {
  raw = encodeNonUrlCharacters(raw);
  if (raw.includes('#')) return { ok: false, why: 'a request target has no fragment ("#")' };
  if (raw.includes('\\')) return { ok: false, why: 'the path has a backslash' };
  if (BAD_ESCAPE.test(raw)) return { ok: false, why: 'the path has a malformed percent-escape' };
  const out: string[] = [];
  let encodedSlash = false;
  let trailing = false;
  const raws = raw.split('/');
  for (let i = 0; i < raws.length; i++) {
    const segment = raws[i];
    const semi = segment.indexOf(';');
    const name = (semi < 0 ? segment : segment.slice(0, semi)).replace(ESCAPE, normalizeEscape);
    if (segment.includes('%') || segment.includes('.')) {
      const decoded = decodedForms(segment);
      if (CONTROL.test(decoded)) return { ok: false, why: 'the path has an encoded control character' };
      const pieces = decoded.split(/[\\/]/);
      if (pieces.length > 1) encodedSlash = true;
      if (pieces.some(isDotSegment)) {
        return { ok: false, why: 'the path has a dot segment (".", "..", also encoded or with ";")' };
      }
    }
    trailing = name === '';
    if (name !== '') out.push(name);
  }
  const path = out.length === 0 ? '/' : `/${out.join('/')}${trailing ? '/' : ''}`;
  return { ok: true, path, encodedSlash };
}

/**
 * True when the path would be refused for a dot segment, a control character or a malformed escape (a `#` is not
 * considered here: it is refused by {@link parseRequestTarget} on its own).
 */
export function hasDotSegment(path: string): boolean {
  return !normalizeRequestPath(path.replaceAll('#', '%23')).ok;
}

/**
 * @param url the raw request target (`req.url`)
 * @param prefix `/{gateway.path}/`
 */
export function parseRequestTarget(url: string, prefix: string): TargetResult {
  if (!url.startsWith(prefix)) return { ok: false, reason: 'not-gateway' };
  const q = url.indexOf('?');
  const pathPart = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : encodeNonUrlCharacters(url.slice(q + 1));
  // A `#` after the `?` is refused as well: the query is not normalised, but a fragment is not a query either.
  if (query.includes('#')) return { ok: false, reason: 'bad-path' };
  const normal = normalizeRequestPath(pathPart);
  if (!normal.ok) return { ok: false, reason: 'bad-path' };
  if (!normal.path.startsWith(prefix)) return { ok: false, reason: 'not-gateway' };
  const rest = normal.path.slice(prefix.length);
  const slash = rest.indexOf('/');
  const topology = slash < 0 ? rest : rest.slice(0, slash);
  if (topology.length === 0) return { ok: false, reason: 'no-topology' };
  const path = slash < 0 ? '/' : rest.slice(slash);
  const target: RequestTarget = { topology, path, query };
  if (normal.encodedSlash) target.encodedSlash = true;
  return { ok: true, target };
}

/** Why a request target is refused (for messages and `explain`); undefined when it is not. */
export function whyRefused(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q >= 0 && url.includes('#', q)) return 'a request target has no fragment ("#")';
  const normal = normalizeRequestPath(q < 0 ? url : url.slice(0, q));
  return normal.ok ? undefined : normal.why;
}

/** The normalised request target the rewrite and the policies read: `/{gateway.path}/{topology}{path}?{query}`. */
export function targetUrl(prefix: string, target: { topology: string; path: string; query: string }): string {
  return `${prefix}${target.topology}${target.path}${target.query ? `?${target.query}` : ''}`;
}

/**
 * The number of path segments of `/{gateway.path}/{topology}`: a rewrite rule's or path ACL's leading `**` stands
 * for exactly these (urltemplate `MatchOptions.anchor`), never for a part of the path below the topology.
 */
export function prefixSegments(gatewayPath: string): number {
  return gatewayPath.split('/').filter((s) => s !== '').length + 1;
}

/**
 * The refusal of a request whose path holds an encoded `/` or `\` on a route that does not accept them, or
 * undefined. `params`: the route's service and dispatch params.
 */
export function encodedSlashRefusal(
  target: RequestTarget,
  params: ReadonlyMap<string, string>,
): string | undefined {
  if (!target.encodedSlash) return undefined;
  if (params.get(ENCODED_SLASH_PARAM)?.trim().toLowerCase() === 'true') return undefined;
  return `the path has an encoded "/" or "\\" (%2F, %5C), which this service does not accept (${ENCODED_SLASH_PARAM})`;
}
