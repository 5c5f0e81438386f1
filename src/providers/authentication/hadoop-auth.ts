/**
 * @module providers/authentication/hadoop-auth
 * Knox's `HadoopAuth` authentication provider (HadoopAuthFilter, on hadoop-auth's AuthenticationFilter with the
 * Kerberos handler): SPNEGO at the front door, and the signed `hadoop.auth` cookie that spares a client a new
 * Negotiate on its next requests.
 *
 * Params, as Knox's (every name after `config.prefix`, default `hadoop.auth.config`):
 * - `type`: `kerberos` (the only handler postern has);
 * - `kerberos.principal`: the acceptor's principal, `HTTP/<host>@REALM`, or `*` for any principal of the keytab;
 * - `kerberos.keytab`: the keytab holding it (MIT's `KRB5_KTNAME`: one acceptor keytab per gateway process);
 * - `kerberos.name.rules`: Hadoop's auth_to_local rules for the short name (kerberos/name-rules), default `DEFAULT`;
 * - `signature.secret`: the cookie's HMAC secret (may be `${ALIAS=…}`); without it a key derived from the
 *   gateway's master secret for the topology (Hadoop picks a random one: cookies would not survive a restart);
 * - `token.validity`: the cookie token's lifetime in seconds (default 36000, Hadoop's);
 * - `cookie.domain`, `cookie.path`: the cookie's attributes (none by default, as Hadoop);
 * - `simple.anonymous.allowed`: accepted for Knox's configurations; only used by Hadoop's `simple` handler.
 *
 * And, unprefixed as in Knox, `hadoop.proxyuser.{user}.users|groups|hosts`: an inbound `doAs` naming another user
 * is honoured (the request goes on as that user) only when these rules let the authenticated user impersonate
 * it from the client's address (identity-assertion/proxyuser, Hadoop's rules), else 403; without rules, never.
 *
 * A request proceeds as the short name of a valid, unexpired `hadoop.auth` cookie, or of the client principal of
 * a valid `Authorization: Negotiate` token, in which case the response carries the new cookie (and the
 * acceptor's mutual-authentication token). No credential → 401 `WWW-Authenticate: Negotiate`; a bad token or
 * cookie → 401 (a bad cookie is cleared); a principal no name rule maps → 403. Every outcome is audited; nothing
 * is forwarded without one. The client's `hadoop.auth` cookie and Authorization header never reach the backend.
 */
import { hkdfSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Errors, type GatewayError } from '../../errors.ts';
import { type AuthToken, signToken, verifyToken } from '../../kerberos/auth-token.ts';
import { bindingProblem, gssapi } from '../../kerberos/gssapi.ts';
import { readKeytab } from '../../kerberos/keytab.ts';
import { krb5ConfPath, readKrb5Conf } from '../../kerberos/krb5-conf.ts';
import { type NameRule, NoMatchingRule, parseNameRules, shortName } from '../../kerberos/name-rules.ts';
import { addTo, auditFor, type Exchange, type Filter, type ProviderFactory } from '../../spi/index.ts';
import { cookieValue, withoutCookies } from '../common/credentials.ts';
import { ParamReader } from '../common/param-reader.ts';
import { doAsValues } from '../identity-assertion/common.ts';
import { osGroupLookup, PROXYUSER_PREFIX, parseProxyUserRules } from '../identity-assertion/proxyuser.ts';

const COOKIE = 'hadoop.auth';
const COOKIES = new Set([COOKIE]);
const CHALLENGE = 'Negotiate';
/** Hadoop's default token validity: 10 hours. */
const DEFAULT_VALIDITY_S = 36000;
const KNOWN = new Set([
  'type',
  'kerberos.principal',
  'kerberos.keytab',
  'kerberos.name.rules',
  'signature.secret',
  'token.validity',
  'cookie.domain',
  'cookie.path',
  'simple.anonymous.allowed',
]);

/** `HTTP/host@REALM` → `HTTP@host` (GSSAPI's host-based name); `*` → '' (any principal of the keytab). */
function acceptorName(principal: string): string {
  if (principal === '*') return '';
  const name = principal.split('@')[0];
  const slash = name.indexOf('/');
  return slash < 0 ? name : `${name.slice(0, slash)}@${name.slice(slash + 1)}`;
}

let acceptorKeytab: string | undefined;

export const hadoopAuthProvider: ProviderFactory = {
  role: 'authentication',
  name: 'HadoopAuth',
  create(ctx): Filter | undefined {
    const params = new ParamReader(ctx);
    const prefix = `${params.text('config.prefix', 'hadoop.auth.config').replace(/\.$/, '')}.`;
    const p = (name: string) => `${prefix}${name}`;
    for (const [name] of params.entries()) {
      if (name === 'config.prefix' || !name.startsWith(prefix)) continue;
      const key = name.slice(prefix.length);
      if (!KNOWN.has(key))
        params.warn(name, `${name} is not understood by postern's HadoopAuth and is ignored`);
    }
    const type = params.text(p('type'), 'kerberos');
    if (type !== 'kerberos') {
      params.error(
        p('type'),
        `${p('type')}: postern's HadoopAuth implements the kerberos handler only, not "${type}"`,
      );
    }
    const principal = params.text(p('kerberos.principal'))?.trim();
    if (!principal) params.error(p('kerberos.principal'), `${p('kerberos.principal')} is required`);
    const keytabParam = params.text(p('kerberos.keytab'))?.trim();
    let keytab: string | undefined;
    if (!keytabParam) params.error(p('kerberos.keytab'), `${p('kerberos.keytab')} is required`);
    else {
      keytab = isAbsolute(keytabParam) ? keytabParam : resolve(ctx.home, keytabParam);
      try {
        const held = readKeytab(keytab).map((e) => e.principal);
        const holds =
          principal === '*'
            ? held.some((h) => h.startsWith('HTTP/'))
            : held.some((h) => h === principal || h.split('@')[0] === principal);
        if (principal && !holds) {
          params.error(
            p('kerberos.keytab'),
            `the keytab ${keytab} does not hold ${principal === '*' ? 'any HTTP/ principal' : principal} (it holds ${[...new Set(held)].join(', ') || 'nothing'})`,
          );
        }
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        params.error(p('kerberos.keytab'), `the keytab ${keytab} cannot be read: ${e.code ?? e.message}`);
      }
      if (acceptorKeytab !== undefined && acceptorKeytab !== keytab && existsSync(acceptorKeytab)) {
        params.warn(
          p('kerberos.keytab'),
          `another topology's HadoopAuth uses ${acceptorKeytab}: MIT's library has one acceptor keytab per process, the last one deployed wins`,
        );
      }
    }
    let rules: NameRule[] = [];
    try {
      rules = parseNameRules(params.text(p('kerberos.name.rules'), 'DEFAULT'));
    } catch (err) {
      params.error(p('kerberos.name.rules'), `${p('kerberos.name.rules')}: ${(err as Error).message}`);
    }
    const validityS = params.int(p('token.validity'), DEFAULT_VALIDITY_S, 1);
    const domain = params.text(p('cookie.domain'))?.trim();
    const path = params.text(p('cookie.path'))?.trim();
    params.bool(p('simple.anonymous.allowed'), false);
    let secret: Uint8Array | undefined;
    const secretParam = params.text(p('signature.secret'));
    if (secretParam) {
      try {
        secret = Buffer.from(ctx.secret(secretParam), 'utf8');
      } catch (err) {
        params.error(p('signature.secret'), (err as Error).message);
      }
    } else {
      secret = new Uint8Array(
        hkdfSync('sha256', ctx.masterSecret, Buffer.from(ctx.topology.name), 'postern:hadoop-auth', 32),
      );
    }
    const conf = krb5ConfPath(ctx.settings.kerberos.krb5Conf);
    let defaultRealm = '';
    try {
      defaultRealm = readKrb5Conf(conf).defaultRealm ?? '';
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      ctx.sink.error(
        ctx.pos,
        `HadoopAuth: the krb5.conf ${conf} ${e.code ? `cannot be read: ${e.code}` : `does not parse: ${e.message}`}`,
      );
    }
    const proxyUserParams = params
      .entries()
      .filter(([name]) => name.toLowerCase().startsWith(PROXYUSER_PREFIX))
      .map(([name, value]) => ({ name, value, pos: params.pos(name) }));
    const proxyUsers =
      proxyUserParams.length > 0
        ? parseProxyUserRules(proxyUserParams, {
            error: (pos, message) => ctx.sink.error(pos, message),
            warn: (pos, message) => ctx.sink.warn(pos, message),
          })
        : undefined;
    const groupLookup = ctx.shared('identity-assertion:os-groups', osGroupLookup);
    const problem = bindingProblem();
    if (problem) ctx.sink.error(ctx.pos, `HadoopAuth: ${problem}`);
    if (params.failed || problem || !principal || !keytab || !secret || ctx.sink.hasErrors) {
      // Fail closed: the reasons are in the sink; the route does not deploy without authentication.
      if (!ctx.sink.hasErrors) ctx.sink.error(ctx.pos, 'HadoopAuth: the configuration cannot be used');
      return undefined;
    }
    // MIT's acceptor reads its keytab and configuration from the environment (process-wide, as Knox's JVM).
    acceptorKeytab = keytab;
    process.env.KRB5_KTNAME = `FILE:${keytab}`;
    if (ctx.settings.kerberos.krb5Conf) process.env.KRB5_CONFIG = ctx.settings.kerberos.krb5Conf;
    const binding = gssapi();
    const service = acceptorName(principal);
    const key = secret;
    const audit = auditFor(ctx, 'authentication');
    const secureAlways = ctx.settings.ssl.enabled;
    const attributes = (secure: boolean) =>
      `${path ? `; Path=${path}` : ''}${domain ? `; Domain=${domain}` : ''}${secure ? '; Secure' : ''}; HttpOnly`;

    const unauthenticated = (message: string, clearCookie: boolean, secure: boolean): GatewayError => {
      const headers: Record<string, string> = { 'WWW-Authenticate': CHALLENGE };
      if (clearCookie) headers['Set-Cookie'] = `${COOKIE}=; Max-Age=0${attributes(secure)}`;
      return Errors.unauthenticated(message, { headers });
    };

    /** The request goes on as `user`, or as the user its `doAs` names when the proxy-user rules allow it. */
    const proceed = async (ex: Exchange, user: string, how: string, next: () => Promise<void>) => {
      const requested = doAsValues(ex.query);
      let name = user;
      if (requested.length > 0 && !(requested.length === 1 && requested[0] === user)) {
        const doAs = requested[0];
        if (doAs === '' || requested.some((v) => v !== doAs)) {
          audit(ex, 'denied', { user, reason: 'empty or conflicting doAs' });
          throw Errors.badRequest('The doAs parameter must name one user');
        }
        const denied = proxyUsers
          ? await proxyUsers.authorize(user, doAs, ex.clientAddress, groupLookup)
          : `User: ${user} is not allowed to impersonate ${doAs}`;
        if (denied) {
          audit(ex, 'denied', { user, reason: denied });
          throw Errors.forbidden('The authenticated user may not act as the doAs user');
        }
        name = doAs;
      }
      ex.user = { name, groups: [] };
      audit(ex, 'success', { user: name, reason: name === user ? how : `${how}, doAs by ${user}` });
      return next();
    };

    return async (ex, next) => {
      const secure = secureAlways || ex.rewriteContext.inbound.scheme === 'https';
      // The client's hadoop.auth cookie and Authorization are the gateway's business, never the backend's.
      addTo(ex, 'requestHeaderFilters', (h) => {
        const { authorization: _auth, cookie, ...rest } = h;
        const kept = typeof cookie === 'string' ? withoutCookies(cookie, COOKIES) : undefined;
        return kept ? { ...rest, cookie: kept } : rest;
      });
      const cookie = cookieValue(ex.req.headers, COOKIE);
      let cookieProblem: string | undefined;
      if (cookie) {
        const token = verifyToken(cookie, [key]);
        if (typeof token === 'string') cookieProblem = token;
        else if (token.type !== 'kerberos') cookieProblem = `token of type ${token.type}`;
        else if (token.expires !== -1 && Date.now() > token.expires) cookieProblem = 'expired token';
        else {
          ex.authMethod = 'cookie';
          ex.credentialExpiresAt = token.expires;
          return proceed(ex, token.user, 'hadoop.auth cookie', next);
        }
      }
      const authorization = ex.req.headers.authorization;
      const negotiate = authorization?.match(/^Negotiate\s+(\S+)\s*$/i)?.[1];
      if (!negotiate) {
        const reason = cookieProblem ? `hadoop.auth cookie refused: ${cookieProblem}` : 'no credentials';
        audit(ex, 'failure', { reason });
        throw unauthenticated('Authentication required', cookieProblem !== undefined, secure);
      }
      let client: string;
      let reply: string;
      try {
        const server = await binding.initializeServer(service);
        reply = await server.step(negotiate);
        if (!server.contextComplete) throw new Error('the security context is not complete after one token');
        client = server.username;
      } catch (err) {
        // The library's message says why (a replay, clock skew, a key the keytab lacks); never the token.
        ex.log.warn({ reason: (err as Error).message }, 'HadoopAuth: Negotiate token refused');
        audit(ex, 'failure', { reason: 'invalid Negotiate token' });
        throw unauthenticated('The Negotiate token is not valid', cookieProblem !== undefined, secure);
      }
      let user: string;
      try {
        user = shortName(client, rules, defaultRealm);
      } catch (err) {
        if (!(err instanceof NoMatchingRule)) throw err;
        audit(ex, 'denied', { user: client, reason: err.message });
        throw Errors.forbidden('The Kerberos principal maps to no user name');
      }
      const token: AuthToken = {
        user,
        principal: client,
        type: 'kerberos',
        expires: Date.now() + validityS * 1000,
      };
      const setCookie = `${COOKIE}="${signToken(token, key)}"${attributes(secure)}`;
      addTo(ex, 'responseHeaderFilters', (h) => {
        const existing = h['set-cookie'];
        const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
        const out = { ...h, 'set-cookie': [...list, setCookie] };
        return reply ? { ...out, 'www-authenticate': `${CHALLENGE} ${reply}` } : out;
      });
      ex.authMethod = 'kerberos';
      ex.credentialExpiresAt = token.expires;
      return proceed(ex, user, `Negotiate as ${client}`, next);
    };
  },
};
