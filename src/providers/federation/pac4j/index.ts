/**
 * @module providers/federation/pac4j
 * Knox's `pac4j` federation provider (`Pac4jDispatcherFilter` + `Pac4jIdentityAdapter`): the KNOXSSO topology
 * authenticates the browser at an OpenID Connect provider (`OidcClient`, oidc.ts) or a SAML 2.0 identity
 * provider (`SAML2Client`, saml.ts) instead of asking for a password, and KNOXSSO then issues `hadoop-jwt`.
 *
 * The flow, as Knox's:
 * 1. `GET …/knoxsso/api/v1/websso?originalUrl=…` without a pac4j session: the login starts. The browser is sent
 *    (302) to the identity provider; what the callback must find again (`state`, `nonce`, the PKCE verifier, the
 *    SAML request id, the URL to come back to) is kept in the encrypted cookie `pac4j.session.pac4jRequest`.
 * 2. The identity provider sends the browser to the client's callback URL: `pac4j.callbackUrl` with
 *    `pac4jCallback=true&client_name=<client>` (Knox's shape; register exactly that at the provider). The
 *    answer is validated against the pending login (which is cleared whatever the outcome), and the user goes
 *    into the encrypted cookie `pac4j.session.pac4jUserProfiles` (2 minutes), and the browser back to step 1's
 *    URL (302).
 * 3. With that cookie the request goes on down the chain as the user (`pac4j.id_attribute` names the profile
 *    attribute to use, default the profile id: OIDC `sub`, SAML NameID; groups from a `groups` attribute when
 *    the provider sends one); the cookie is cleared, as Knox's identity adapter empties the profiles, and KNOXSSO
 *    issues its cookie and redirects to `originalUrl`.
 *
 * Refusals (audited as `federation` failures, logged as a reason without any token, code or state): a callback
 * without a login in progress in this browser, for another client, or for an unknown `client_name` → 400; an
 * answer openid-client or node-saml refuses (state, nonce, issuer, audience, signature, expiry, the provider's
 * own error) → 401. An identity provider that cannot be reached → 503, logged once per outage. Nothing is issued
 * on any of these.
 *
 * Params: `pac4j.callbackUrl` (required), `clientName` (comma list, the first the default; `client_name` on the
 * login URL picks another), `pac4j.id_attribute`, `pac4j.cookie.domain.suffix`, `pac4j.cookie.samesite`
 * (default Lax), `pac4j.session.store.secure.cookie` (default: the gateway's `ssl.enabled`; over https the
 * cookies are Secure anyway), and the clients' own (`oidc.*`, `saml.*`). Knox's `pac4j.session.store` (the
 * server-side J2E store) and the `pac4j.session.store.exclude.*` trimming are accepted and moot: postern's
 * session is always the encrypted cookie and holds only the user name and groups.
 */
import { ConfigError } from '../../../config/diagnostics.ts';
import { Errors } from '../../../errors.ts';
import { readBody } from '../../../gateway/read-body.ts';
import {
  addTo,
  auditFor,
  type Exchange,
  type Filter,
  type ProviderContext,
  type ProviderFactory,
} from '../../../spi/index.ts';
import { ParamReader } from '../../common/param-reader.ts';
import { dropCookies } from '../token-common.ts';
import {
  CALLBACK_PARAM,
  CLIENT_NAME_PARAM,
  type IdentityClient,
  IdpUnavailable,
  LoginRefused,
  type Profile,
} from './client.ts';
import { createOidcClient, OIDC_CLIENT } from './oidc.ts';
import { createSamlClient, SAML_CLIENT } from './saml.ts';
import { CookieSession, SESSION_PREFIX } from './session.ts';

/** pac4j's session keys, as Knox's cookies name them after `pac4j.session.`. */
const PENDING_KEY = 'pac4jRequest';
const PROFILE_KEY = 'pac4jUserProfiles';
const PENDING_TTL_MS = 10 * 60_000;
const PROFILE_TTL_MS = 2 * 60_000;
/** A SAML response is a form of a few kB; refuse anything much larger before parsing it. */
const FORM_LIMIT = 256 * 1024;

/** Knox/pac4j params postern reads but does not act on (docs/sso.md says why). */
const UNSUPPORTED_PARAMS = [
  'oidc.type',
  'oidc.logoutUrl',
  'pac4j.cookie.max.age',
  'saml.maximumAuthenticationLifetime',
];
const UNSUPPORTED_CLIENTS = [
  'FacebookClient',
  'TwitterClient',
  'CasClient',
  'AzureAd2Client',
  'testBasicAuth',
];

interface PendingLogin extends Record<string, string> {
  client: string;
  requested: string;
}

interface StoredUser {
  name: string;
  groups: string[];
}

/** The user a profile stands for: `pac4j.id_attribute` when the profile has it, else its id (Knox's fallback). */
export function principalOf(
  profile: Profile,
  idAttribute: string | undefined,
): { name: string; fellBack: boolean } {
  if (idAttribute) {
    const value = profile.attributes[idAttribute];
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string' && first !== '') return { name: first, fellBack: false };
    if (typeof first === 'number') return { name: String(first), fellBack: false };
    return { name: profile.id, fellBack: true };
  }
  return { name: profile.id, fellBack: false };
}

function groupsOf(profile: Profile): string[] {
  const value = profile.attributes.groups;
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return list
    .filter((g): g is string => typeof g === 'string')
    .map((g) => g.trim())
    .filter((g) => g !== '')
    .slice(0, 256);
}

/** Appends a Set-Cookie line to the response (a service answering later keeps it: see knoxsso). */
function addCookie(ex: Exchange, line: string): void {
  const prior = ex.res.getHeader('set-cookie');
  const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
  ex.res.setHeader('set-cookie', [...list, line]);
}

function redirect(ex: Exchange, location: string, cookies: string[]): void {
  ex.req.resume();
  const prior = ex.res.getHeader('set-cookie');
  const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
  ex.res.removeHeader('set-cookie');
  ex.res.writeHead(302, {
    location,
    'set-cookie': [...list, ...cookies],
    'cache-control': 'no-store',
    'content-length': '0',
  });
  ex.res.end();
}

export const pac4jFederation: ProviderFactory = {
  role: 'federation',
  name: 'pac4j',
  create(ctx: ProviderContext): Filter | undefined {
    const params = new ParamReader(ctx);
    const callbackBase = params.text('pac4j.callbackUrl');
    if (!callbackBase) {
      throw ConfigError.at(
        ctx.pos,
        'pac4j param pac4j.callbackUrl is required (the KNOXSSO URL, as in Knox)',
      );
    }
    if (!URL.canParse(callbackBase) || !/^https?:$/.test(new URL(callbackBase).protocol)) {
      params.error('pac4j.callbackUrl', `expected an absolute http(s) URL, found "${callbackBase}"`);
    }
    const idAttribute = params.text('pac4j.id_attribute') || undefined;
    const sameSiteText = params.text('pac4j.cookie.samesite') || 'Lax';
    const sameSite = (['Strict', 'Lax', 'None'] as const).find(
      (s) => s.toLowerCase() === sameSiteText.toLowerCase(),
    );
    if (!sameSite)
      params.error('pac4j.cookie.samesite', `expected Strict, Lax or None, found "${sameSiteText}"`);
    if (sameSite === 'Strict') {
      params.warn(
        'pac4j.cookie.samesite',
        'Strict: the browser does not send the login cookie back with the identity provider’s redirect, so every login fails',
      );
    }
    const secure = params.bool('pac4j.session.store.secure.cookie', ctx.settings.ssl.enabled);
    const store = params.text('pac4j.session.store');
    if (store && !/KnoxSessionStore$/.test(store)) {
      params.warn(
        'pac4j.session.store',
        `"${store}": postern keeps the pac4j session in encrypted cookies only`,
      );
    }

    for (const name of UNSUPPORTED_PARAMS) {
      if (params.has(name)) params.warn(name, 'not supported by postern; ignored (see docs/sso.md)');
    }

    const defined: string[] = [];
    if (params.has('oidc.id') || params.has('oidc.discoveryUri')) defined.push(OIDC_CLIENT);
    if (params.has('saml.identityProviderMetadataPath')) defined.push(SAML_CLIENT);
    const named = params.list('clientName', '');
    for (const name of named) {
      if (UNSUPPORTED_CLIENTS.includes(name)) {
        params.error('clientName', `${name} is not supported by postern (OidcClient and SAML2Client are)`);
      } else if (name !== OIDC_CLIENT && name !== SAML_CLIENT) {
        params.error('clientName', `unknown client "${name}" (postern has OidcClient and SAML2Client)`);
      }
    }
    const wanted = named.length > 0 ? named : defined;
    if (wanted.length === 0) {
      params.error(
        'clientName',
        'no client configured: set oidc.* (OidcClient) or saml.* (SAML2Client) params',
      );
    }
    if (params.failed || !callbackBase || !sameSite) return undefined;

    const clients = new Map<string, IdentityClient>();
    for (const name of new Set(wanted)) {
      const client =
        name === OIDC_CLIENT
          ? createOidcClient(params, callbackBase, (v) => ctx.secret(v))
          : name === SAML_CLIENT
            ? createSamlClient(params, callbackBase, ctx)
            : undefined;
      if (client) clients.set(name, client);
    }
    if (params.failed || clients.size === 0) return undefined;
    const defaultClient = clients.get(wanted[0]) as IdentityClient;

    const cookiePath = `/${[ctx.settings.path, ctx.topology.name].filter(Boolean).join('/')}`;
    const domainSuffix = params.text('pac4j.cookie.domain.suffix') || undefined;
    const session = new CookieSession(ctx.masterSecret, ctx.topology.name, {
      path: cookiePath,
      sameSite,
      secure,
      domainSuffix,
    });
    // SAML's HTTP-POST binding comes back as a cross-site POST, which carries only SameSite=None cookies, and
    // browsers keep those only when Secure: None; Secure over https, the configured SameSite over plain http.
    const postSession = new CookieSession(ctx.masterSecret, ctx.topology.name, {
      path: cookiePath,
      sameSite,
      secure,
      domainSuffix,
      crossSite: true,
    });
    if (clients.get(SAML_CLIENT) && !secure && new URL(callbackBase).protocol === 'http:') {
      params.warn(
        'pac4j.callbackUrl',
        'SAML2Client over plain http: the IdP posts its answer back cross-site, and browsers send the login cookie with that only when it is SameSite=None; Secure, which needs https; browser logins fail (serve the gateway over https)',
      );
    }
    // KNOXSSO's hadoop-jwt is SameSite=Strict by default (Knox's WebSSOResource): the redirects that follow the
    // IdP's cross-site POST carry no Strict cookie, so the application would not see the token it was just given.
    const knoxsso = ctx.topology.services.find((s) => s.role === 'KNOXSSO');
    const ssoSameSite =
      knoxsso?.params.find((p) => p.name.toLowerCase() === 'knoxsso.cookie.samesite')?.value.trim() ||
      'Strict';
    if (clients.get(SAML_CLIENT) && knoxsso && ssoSameSite.toLowerCase() === 'strict') {
      params.warn(
        'clientName',
        "SAML2Client with KNOXSSO's hadoop-jwt SameSite=Strict (Knox's default): the IdP answers with a cross-site POST, browsers send no Strict cookie along the redirects that follow it, and the user comes back to the login instead of the application; set KNOXSSO's param knoxsso.cookie.samesite=Lax",
      );
    }
    const audit = auditFor(ctx, 'federation');
    const dropSessionCookies = dropCookies(
      new Set([`${SESSION_PREFIX}${PENDING_KEY}`, `${SESSION_PREFIX}${PROFILE_KEY}`]),
    );
    /** Clients whose provider is known to be down: logged once until it answers again. */
    const down = new Set<string>();

    const unavailable = (ex: Exchange, client: IdentityClient, err: IdpUnavailable) => {
      if (!down.has(client.name)) {
        down.add(client.name);
        ex.log.error(
          { client: client.name, reason: err.reason },
          'pac4j: the identity provider is unavailable',
        );
      }
      audit(ex, 'unavailable', { reason: `${client.name}: identity provider unavailable` });
      return Errors.unavailable('The identity provider cannot be reached; retry shortly', {
        cause: err,
        headers: { 'retry-after': '10' },
      });
    };
    const answered = (ex: Exchange, client: IdentityClient) => {
      if (down.delete(client.name)) {
        ex.log.info({ client: client.name }, 'pac4j: the identity provider answers again');
      }
    };

    const startLogin = async (ex: Exchange, query: URLSearchParams): Promise<void> => {
      const asked = query.get(CLIENT_NAME_PARAM);
      const client = asked ? clients.get(asked) : defaultClient;
      if (!client) {
        audit(ex, 'failure', { reason: 'unknown client_name' });
        throw Errors.badRequest('Unknown client_name for this login');
      }
      let started: Awaited<ReturnType<IdentityClient['start']>>;
      try {
        started = await client.start(ex);
      } catch (err) {
        if (err instanceof IdpUnavailable) throw unavailable(ex, client, err);
        throw err;
      }
      answered(ex, client);
      const pending: PendingLogin = { ...started.pending, client: client.name, requested: ex.inboundUrl };
      const store = client.postCallback ? postSession : session;
      audit(ex, 'failure', { reason: `no pac4j session; redirected to ${client.name}` });
      redirect(ex, started.location, [store.write(ex, PENDING_KEY, pending, PENDING_TTL_MS)]);
    };

    const callback = async (ex: Exchange, query: URLSearchParams): Promise<void> => {
      const client = clients.get(query.get(CLIENT_NAME_PARAM) ?? '');
      if (!client) {
        ex.req.resume();
        audit(ex, 'failure', { reason: 'callback for an unknown client_name' });
        throw Errors.badRequest('Unknown client_name in the identity provider callback');
      }
      const store = client.postCallback ? postSession : session;
      // The login in progress is used once, whatever the outcome.
      addCookie(ex, store.clear(ex, PENDING_KEY));
      let form: URLSearchParams | undefined;
      if (client.postCallback) {
        if (ex.req.method !== 'POST') {
          ex.req.resume();
          audit(ex, 'failure', { reason: `${client.name} callback without a POST` });
          throw Errors.badRequest(`The ${client.name} callback is a form POST`);
        }
        form = new URLSearchParams((await readBody(ex.req, FORM_LIMIT)).toString('utf8'));
      } else {
        ex.req.resume();
      }
      const pending = store.read<PendingLogin>(ex, PENDING_KEY);
      if (!pending || pending.client !== client.name) {
        audit(ex, 'failure', { reason: 'callback without a login in progress' });
        const why =
          client.postCallback && !store.secureFor(ex)
            ? ` (over plain http the browser does not send the login cookie with the identity provider's cross-site POST: the gateway must be served over https)`
            : '';
        throw Errors.badRequest(
          `No login is in progress in this browser, or it expired: start again from the application${why}`,
        );
      }
      let profile: Profile;
      try {
        profile = await client.callback(ex, pending, form);
      } catch (err) {
        if (err instanceof IdpUnavailable) throw unavailable(ex, client, err);
        if (err instanceof LoginRefused) {
          ex.log.warn({ client: client.name, reason: err.reason }, 'pac4j: login refused');
          audit(ex, 'failure', { reason: `${client.name}: ${err.reason}` });
          throw Errors.unauthenticated(`The identity provider's answer was refused: ${err.reason}`);
        }
        throw err;
      }
      answered(ex, client);
      const principal = principalOf(profile, idAttribute);
      if (principal.fellBack) {
        ex.log.warn(
          { client: client.name, attribute: idAttribute },
          'pac4j: the profile has no such pac4j.id_attribute; using the profile id',
        );
      }
      const user: StoredUser = { name: principal.name, groups: groupsOf(profile) };
      audit(ex, 'success', { user: user.name, reason: `${client.name} login` });
      redirect(ex, pending.requested, [session.write(ex, PROFILE_KEY, user, PROFILE_TTL_MS)]);
    };

    return async (ex, next) => {
      addTo(ex, 'requestHeaderFilters', dropSessionCookies);
      const query = new URLSearchParams(ex.query);
      if (query.has(CALLBACK_PARAM)) return callback(ex, query);
      const user = session.read<StoredUser>(ex, PROFILE_KEY);
      if (user && typeof user.name === 'string' && user.name !== '') {
        // Knox's identity adapter empties the session's profiles once it used them: one login, one token.
        addCookie(ex, session.clear(ex, PROFILE_KEY));
        ex.user = { name: user.name, groups: Array.isArray(user.groups) ? user.groups : [] };
        ex.authMethod = 'session';
        audit(ex, 'success', { user: user.name, reason: 'pac4j session' });
        return next();
      }
      return startLogin(ex, query);
    };
  },
};
