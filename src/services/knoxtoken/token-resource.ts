/**
 * @module services/knoxtoken/token-resource
 * Knox's `TokenResource` (v1, `/knoxtoken/api/v1/token…`) and `TokenResourceV2` (`/knoxtoken/api/v2/token…`),
 * answered by the gateway with the token state service (`ctx.gateway.tokenState`) when the service param
 * `knox.token.exp.server-managed` (default: gateway-site `gateway.knox.token.exp.server-managed`) is true.
 *
 * | path below `…/token` | v1 | v2 | what |
 * |---|---|---|---|
 * | (none) | GET, POST | GET, POST | issue a token for the authenticated user (`lifespan`, `comment`, `md_*`, `doAs`) |
 * | `/renew` | POST | PUT | body: the JWT; renewers only (`knox.token.renewer.whitelist`, `.group.whitelist`) |
 * | `/revoke` | POST | DELETE | body: the JWT or its id; the token's owner or a renewer |
 * | `/revokeTokens` | DELETE | DELETE | body: a JSON array of ids |
 * | `/enable`, `/disable` | PUT | PUT | body: a token id |
 * | `/enableTokens`, `/disableTokens` | PUT | PUT | body: a JSON array of ids |
 * | `/getUserTokens` | GET | GET | `userName`, `createdBy`, `userNameOrCreatedBy`, `allTokens`, `md_*` |
 * | `/getTssStatus` | GET | GET | the token state service's status |
 *
 * Answers are Knox's: the same JSON fields, status codes and error bodies (`{"revoked": "false", "error": …,
 * "code": 50}`, Knox's `ErrorCode` numbers), pretty-printed as Knox writes them. Where Knox answers a body that is
 * not JSON (`{ "Unable to get token - token limit exceeded." }`), postern answers `{"error": "…"}`.
 *
 * Stricter than Knox (its UI enforces these; its API does not): listing another user's tokens or all tokens, and
 * enabling/disabling another user's token, need the caller to be in gateway-site
 * `gateway.knox.token.management.users.can.see.all.tokens` (or, for enable/disable, a renewer); otherwise 403.
 *
 * A token store that cannot answer gives 503 (the catalog's `unavailable`), never a token without its state.
 * Logs and the audit name tokens by their display id, never the token or its passcode.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../../config/diagnostics.ts';
import { splitList } from '../../config/values.ts';
import { Errors } from '../../errors.ts';
import { readText } from '../../gateway/read-body.ts';
import {
  auditFor,
  type DispatchContext,
  type Exchange,
  type Handler,
  type TokenRecord,
  type TokenStateService,
  TokenStateUnavailable,
  tokenIdDisplay,
  UnknownTokenError,
} from '../../spi/index.ts';
import { audiencesParam, boolParam, checkSigAlg, subjectOf, ttlParam } from './issuing.ts';
import { DEFAULT_ISSUER, issueToken, tokenKeyStore } from './keys.ts';
import { ErrorCode, knoxBody, parseIsoDuration, tokenIdOf, tokenJson } from './token-wire.ts';

/** Knox's `TokenResource.TOKEN_TTL_DEFAULT` (30 seconds). */
export const KNOXTOKEN_TTL_DEFAULT = 30_000;
const BODY_LIMIT = 64 * 1024;
const PATH = /^\/knoxtoken\/api\/(v1|v2)\/token(?:\/([A-Za-z]+))?\/?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Knox's `KNOX_TOKEN_METADATA` columns: md_name varchar(32), md_value varchar(256). */
const MD_NAME_MAX = 32;
const MD_VALUE_MAX = 256;

type Op =
  | 'issue'
  | 'renew'
  | 'revoke'
  | 'revokeTokens'
  | 'enable'
  | 'disable'
  | 'enableTokens'
  | 'disableTokens'
  | 'getUserTokens'
  | 'getTssStatus';

/** Which operation a method and path name, per API version (Knox's JAX-RS annotations). */
const METHODS: Record<Op, { v1: string[]; v2: string[] }> = {
  issue: { v1: ['GET', 'POST'], v2: ['GET', 'POST'] },
  renew: { v1: ['POST'], v2: ['PUT'] },
  revoke: { v1: ['POST'], v2: ['DELETE'] },
  revokeTokens: { v1: ['DELETE'], v2: ['DELETE'] },
  enable: { v1: ['PUT'], v2: ['PUT'] },
  disable: { v1: ['PUT'], v2: ['PUT'] },
  enableTokens: { v1: ['PUT'], v2: ['PUT'] },
  disableTokens: { v1: ['PUT'], v2: ['PUT'] },
  getUserTokens: { v1: ['GET'], v2: ['GET'] },
  getTssStatus: { v1: ['GET'], v2: ['GET'] },
};

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function send(ex: Exchange, answer: Answer): void {
  const body = knoxBody(answer.body);
  ex.res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    pragma: 'no-cache',
  });
  ex.res.end(body);
}

function intParam(ctx: DispatchContext, name: string, min: number): number | undefined {
  const text = ctx.params.get(name)?.trim();
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    throw ConfigError.at(ctx.pos, `${name} must be an integer of at least ${min}, found "${text}"`);
  }
  return n;
}

/** `knox.token.client.data`: `name=value` pairs added to every answer (`homepage_url=…`). */
function clientData(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of splitList(text ?? '', /,/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Knox's `getTokenTTLAsText`. */
function ttlText(ttl: number): string {
  if (ttl === -1) return 'Unlimited lifetime';
  const s = Math.floor(ttl / 1000);
  const parts: string[] = [];
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (days > 0) parts.push(`${days} days`);
  if (hours > 0) parts.push(`${hours} hours`);
  if (minutes > 0) parts.push(`${minutes} minutes`);
  if (seconds > 0) parts.push(`${seconds} seconds`);
  return parts.join(' ');
}

/** Knox's passcode field: base64(base64(tokenId) + "::" + base64(passcode)). */
export function passcodeField(tokenId: string, passcode: string): string {
  const inner = `${Buffer.from(tokenId).toString('base64')}::${Buffer.from(passcode).toString('base64')}`;
  return Buffer.from(inner).toString('base64');
}

export function tokenResource(ctx: DispatchContext): Handler {
  const p = ctx.params;
  const ttl = ttlParam(ctx, 'knox.token.ttl', KNOXTOKEN_TTL_DEFAULT);
  const audiences = audiencesParam(ctx, 'knox.token.audiences');
  const issuer = p.get('knox.token.issuer')?.trim() || DEFAULT_ISSUER;
  const targetUrl = p.get('knox.token.target.url')?.trim() || undefined;
  const endpointCert = p.get('knox.token.target.endpoint.cert.pem')?.trim() || undefined;
  const extra = clientData(p.get('knox.token.client.data'));
  const groupsAllowed = boolParam(ctx, 'knox.token.include.groups.allowed', true);
  const lifespanInput = boolParam(ctx, 'knox.token.lifespan.input.enabled', true);
  checkSigAlg(ctx, 'knox.token.sigalg');

  const site = ctx.settings.tokenState;
  const managed = boolParam(ctx, 'knox.token.exp.server-managed', site.serverManaged);
  const renewInterval = intParam(ctx, 'knox.token.exp.renew-interval', 1);
  const maxLifetime = intParam(ctx, 'knox.token.exp.max-lifetime', -1);
  const renewers = new Set(splitList(p.get('knox.token.renewer.whitelist') ?? '', /,/));
  const renewerGroups = new Set(splitList(p.get('knox.token.renewer.group.whitelist') ?? '', /,/));
  const limitText = p.get('knox.token.limit.per.user')?.trim();
  let limitPerUser = site.limitPerUser;
  if (limitText) {
    const n = Number(limitText);
    if (!Number.isSafeInteger(n) || n < -1) {
      throw ConfigError.at(
        ctx.pos,
        `knox.token.limit.per.user must be an integer (-1: no limit), found "${limitText}"`,
      );
    }
    limitPerUser = n;
  }
  const actionText = p.get('knox.token.user.limit.exceeded.action')?.trim() || 'RETURN_ERROR';
  if (actionText !== 'RETURN_ERROR' && actionText !== 'REMOVE_OLDEST') {
    throw ConfigError.at(
      ctx.pos,
      `knox.token.user.limit.exceeded.action must be RETURN_ERROR or REMOVE_OLDEST, found "${actionText}"`,
    );
  }
  const allowedBackends = p.get('knox.token.exp.tokengen.allowed.tss.backends');
  if (managed && renewers.size === 0 && renewerGroups.size === 0) {
    ctx.sink.warn(ctx.pos, 'knox.token.renewer.whitelist is empty: no one may renew tokens of this service');
  }
  const impersonation = ctx.topology.providers.some(
    (pr) =>
      pr.enabled &&
      pr.params.some(
        (x) => x.name.toLowerCase() === 'hadoop.proxyuser.impersonation.enabled' && x.value.trim() === 'true',
      ),
  );
  const keys = tokenKeyStore(ctx.home, ctx.settings);
  const audit = auditFor(ctx, 'authentication');

  /** The token state when this service manages tokens; 503 when it should and cannot. */
  const state = (): TokenStateService | undefined => {
    if (!managed) return undefined;
    const tss = ctx.gateway?.tokenState;
    if (!tss) throw Errors.unavailable('Token management is not available outside a running gateway');
    return tss;
  };

  const callerOf = (ex: Exchange): string => {
    const who = subjectOf(ex);
    if (!who) {
      audit(ex, 'failure', { reason: 'no authenticated user' });
      throw Errors.unauthenticated('No authenticated user');
    }
    return who;
  };
  const isRenewer = (ex: Exchange, user: string): boolean =>
    renewers.has(user) || (ex.effectiveGroups ?? ex.user?.groups ?? []).some((g) => renewerGroups.has(g));

  /** Query parameters, and a POST's form body (Knox's `request.getParameter` reads both). */
  const requestParams = async (ex: Exchange): Promise<URLSearchParams> => {
    const params = new URLSearchParams(ex.query);
    const type = ex.req.headers['content-type'] ?? '';
    if (ex.req.method === 'POST' && /^application\/x-www-form-urlencoded/i.test(type)) {
      for (const [k, v] of new URLSearchParams(await readText(ex.req, BODY_LIMIT))) params.append(k, v);
    } else {
      ex.req.resume();
    }
    return params;
  };

  const expiryOf = (lifespan: string | null, now: number): number => {
    let millis = ttl;
    if (lifespan) {
      const life = parseIsoDuration(lifespan);
      if (life !== undefined && (ttl === -1 || life <= ttl)) millis = life;
      else if (life === undefined)
        throw Errors.badRequest(`lifespan "${lifespan}" is not an ISO-8601 duration (PT1H, P1DT2H)`);
    } else if (ttl === -1) return -1;
    return now + millis;
  };

  async function issue(ex: Exchange): Promise<void> {
    const params = await requestParams(ex);
    let user = callerOf(ex);
    const tss = state();
    const createdBy = tss ? ex.impersonatedBy : undefined;
    if (params.get('knox.token.include.groups') === 'true' && !groupsAllowed) {
      return send(ex, { status: 400, body: { error: 'Including group information in tokens is disabled' } });
    }
    const comment = params.get('comment')?.trim() || undefined;
    const custom: Record<string, string> = {};
    for (const [k, v] of params) {
      if (!k.startsWith('md_') || k.length === 3) continue;
      custom[k.slice(3)] = v;
    }
    for (const [k, v] of Object.entries({ ...custom, ...(comment ? { comment } : {}) })) {
      if (k.length > MD_NAME_MAX || v.length > MD_VALUE_MAX) {
        throw Errors.badRequest(
          `Token metadata ${k} is too long (names up to ${MD_NAME_MAX}, values up to ${MD_VALUE_MAX} characters)`,
        );
      }
    }
    if (tss && limitPerUser !== -1) {
      const own = (await tss.getTokens(user)).filter((t) => t.metadata.type !== 'KNOXSSO_COOKIE');
      if (own.length >= limitPerUser) {
        if (actionText === 'RETURN_ERROR' || own.length === 0) {
          audit(ex, 'denied', { user, reason: 'token limit exceeded' });
          return send(ex, { status: 403, body: { error: 'Unable to get token - token limit exceeded.' } });
        }
        // Knox's REMOVE_OLDEST: the list is ordered by issue time.
        await tss.revokeToken(own[0].tokenId);
      }
    }
    const now = Date.now();
    const expires = expiryOf(lifespanInput ? params.get('lifespan') : null, now);
    const claims: Record<string, unknown> = {};
    if (tss) claims['managed.token'] = 'true';
    if (params.get('knox.token.include.groups') === 'true') {
      claims.groups = [...(ex.effectiveGroups ?? ex.user?.groups ?? [])];
    }
    const issued = await issueToken(await keys.getOrCreate(), {
      subject: user,
      ttlMs: -1,
      issuedAt: now,
      expiresAt: expires === -1 ? undefined : expires,
      audiences,
      issuer,
      claims,
    });
    const expiresIn = issued.expiresAt ?? -1;
    const body: Record<string, unknown> = {
      access_token: issued.token,
      token_id: issued.id,
      managed: String(tss !== undefined),
      token_type: 'Bearer',
      expires_in: expiresIn,
      ...(targetUrl ? { target_url: targetUrl } : {}),
      ...extra,
      ...(endpointCert ? { endpoint_public_cert: endpointCert } : {}),
    };
    if (tss) {
      const passcode = tss.persistent ? randomUUID() : undefined;
      if (passcode) body.passcode = passcodeField(issued.id, passcode);
      user = user.slice(0, MD_VALUE_MAX);
      await tss.addToken(
        {
          tokenId: issued.id,
          issueTime: now,
          expiration: expiresIn,
          maxLifetimeDuration: maxLifetime ?? tss.defaultMaxLifetime,
        },
        {
          ...custom,
          userName: user,
          ...(comment ? { comment } : {}),
          enabled: 'true',
          type: 'JWT',
          ...(createdBy ? { createdBy } : {}),
        },
        passcode,
      );
    }
    send(ex, { status: 200, body });
    audit(ex, 'success', { user, reason: `token issued (${tokenIdDisplay(issued.id)})`, status: 200 });
  }

  async function renew(ex: Exchange): Promise<void> {
    const token = (await readText(ex.req, BODY_LIMIT)).trim();
    const tss = state();
    const fail = (status: number, error: string, code: number): Answer => ({
      status,
      body: { renewed: 'false', error, code },
    });
    if (!tss) {
      const parsed = tokenIdOf(token, false);
      if ('error' in parsed) return send(ex, fail(400, parsed.error, ErrorCode.INVALID_TOKEN));
      return send(ex, { status: 200, body: { renewed: 'true', expires: String(parsed.expires ?? -1) } });
    }
    const renewer = callerOf(ex);
    if (!isRenewer(ex, renewer)) {
      audit(ex, 'denied', { user: renewer, reason: 'not a renewer' });
      return send(
        ex,
        fail(403, `Caller (${renewer}) not authorized to renew tokens.`, ErrorCode.UNAUTHORIZED),
      );
    }
    const parsed = tokenIdOf(token, false);
    if ('error' in parsed) return send(ex, fail(400, parsed.error, ErrorCode.INVALID_TOKEN));
    let expires: number;
    try {
      const record = await tss.getToken(parsed.tokenId);
      if (record.expiration >= 0 && record.expiration <= Date.now()) {
        return send(ex, fail(400, 'Expired tokens must not be renewed.', ErrorCode.TOKEN_EXPIRED));
      }
      expires = await tss.renewToken(parsed.tokenId, renewInterval ?? tss.defaultRenewInterval);
    } catch (err) {
      if (err instanceof TokenStateUnavailable) throw unavailable(err);
      return send(ex, fail(400, (err as Error).message, ErrorCode.INTERNAL_ERROR));
    }
    audit(ex, 'success', { user: renewer, reason: `token renewed (${tokenIdDisplay(parsed.tokenId)})` });
    send(ex, { status: 200, body: { renewed: 'true', expires: String(expires) } });
  }

  async function revokeOne(ex: Exchange, token: string, revoker: string): Promise<Answer> {
    const fail = (status: number, error: string, code: number): Answer => ({
      status,
      body: { revoked: 'false', error, code },
    });
    const tss = managed ? ctx.gateway?.tokenState : undefined;
    if (!tss) return fail(400, 'Token revocation support is not configured', ErrorCode.CONFIGURATION_ERROR);
    const parsed = UUID.test(token) ? { tokenId: token } : tokenIdOf(token, false);
    if ('error' in parsed) return fail(400, parsed.error, ErrorCode.INVALID_TOKEN);
    const { tokenId } = parsed;
    try {
      const record = await tss.getToken(tokenId);
      if (record.metadata.type === 'KNOXSSO_COOKIE') {
        return fail(
          403,
          `SSO cookie (${tokenIdDisplay(tokenId)}) cannot not be revoked.`,
          ErrorCode.UNAUTHORIZED,
        );
      }
      if (!ownedBy(record, revoker) && !isRenewer(ex, revoker)) {
        audit(ex, 'denied', { user: revoker, reason: `may not revoke ${tokenIdDisplay(tokenId)}` });
        return fail(403, `Caller (${revoker}) not authorized to revoke tokens.`, ErrorCode.UNAUTHORIZED);
      }
      await tss.revokeToken(tokenId);
    } catch (err) {
      if (err instanceof TokenStateUnavailable) throw unavailable(err);
      if (err instanceof UnknownTokenError) return fail(400, err.message, ErrorCode.UNKNOWN_TOKEN);
      throw err;
    }
    audit(ex, 'success', { user: revoker, reason: `token revoked (${tokenIdDisplay(tokenId)})` });
    return { status: 200, body: { revoked: 'true' } };
  }

  async function setEnabled(ex: Exchange, tokenId: string, enable: boolean, batch: boolean): Promise<Answer> {
    const fail = (status: number, error: string, code: number): Answer => ({
      status,
      body: { setEnabledFlag: 'false', error, code },
    });
    const tss = managed ? ctx.gateway?.tokenState : undefined;
    if (!tss) {
      return fail(
        400,
        `Unable to ${enable ? 'enable' : 'disable'} tokens because token management is not configured`,
        ErrorCode.CONFIGURATION_ERROR,
      );
    }
    const caller = callerOf(ex);
    try {
      const record = await tss.getToken(tokenId);
      const enabled = record.metadata.enabled === 'true';
      if (!ownedBy(record, caller) && !isRenewer(ex, caller) && !tss.canSeeAllTokens(caller)) {
        audit(ex, 'denied', { user: caller, reason: `may not change ${tokenIdDisplay(tokenId)}` });
        return fail(
          403,
          `Caller (${caller}) not authorized to ${enable ? 'enable' : 'disable'} this token.`,
          ErrorCode.UNAUTHORIZED,
        );
      }
      if (!batch && enable && enabled)
        return fail(400, 'Token is already enabled', ErrorCode.ALREADY_ENABLED);
      if (!batch && !enable && !enabled)
        return fail(400, 'Token is already disabled', ErrorCode.ALREADY_DISABLED);
      if (enable && record.metadata.type === 'KNOXSSO_COOKIE' && !enabled) {
        return fail(400, 'Disabled KnoxSSO Cookies cannot not be enabled', ErrorCode.DISABLED_KNOXSSO_COOKIE);
      }
      await tss.addMetadata(tokenId, { enabled: String(enable) });
    } catch (err) {
      if (err instanceof TokenStateUnavailable) throw unavailable(err);
      if (err instanceof UnknownTokenError) return fail(400, err.message, ErrorCode.UNKNOWN_TOKEN);
      throw err;
    }
    audit(ex, 'success', {
      user: caller,
      reason: `token ${enable ? 'enabled' : 'disabled'} (${tokenIdDisplay(tokenId)})`,
    });
    return { status: 200, body: { setEnabledFlag: 'true', isEnabled: String(enable) } };
  }

  /** Knox's batch forms: each id in turn; the last failure is the answer, else the last success. */
  async function batch(ex: Exchange, one: (id: string) => Promise<Answer>): Promise<void> {
    const text = await readText(ex.req, BODY_LIMIT);
    let ids: unknown;
    try {
      ids = JSON.parse(text);
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((i) => typeof i !== 'string')) {
      throw Errors.badRequest('The body must be a JSON array of token ids');
    }
    let last: Answer | undefined;
    let error: Answer | undefined;
    for (const id of ids as string[]) {
      last = await one(id);
      if (last.status !== 200) error = last;
    }
    send(ex, error ?? last!);
  }

  async function getUserTokens(ex: Exchange): Promise<void> {
    ex.req.resume();
    const tss = managed ? ctx.gateway?.tokenState : undefined;
    if (!tss) return send(ex, { status: 503, body: { error: 'Token management is not configured' } });
    const caller = callerOf(ex);
    const q = new URLSearchParams(ex.query);
    const userName = q.get('userName');
    const createdBy = q.get('createdBy');
    const either = q.get('userNameOrCreatedBy');
    const all = q.get('allTokens')?.toLowerCase() === 'true';
    const named = [userName, createdBy, either].filter((n): n is string => n !== null);
    if ((all || named.some((n) => n !== caller)) && !tss.canSeeAllTokens(caller)) {
      audit(ex, 'denied', { user: caller, reason: "listing others' tokens" });
      throw Errors.forbidden(`${caller} may list their own tokens only`);
    }
    let tokens: TokenRecord[];
    try {
      if (all) tokens = await tss.getAllTokens();
      else if (either !== null) {
        const byId = new Map<string, TokenRecord>();
        for (const t of [...(await tss.getTokens(either)), ...(await tss.getDoAsTokens(either))])
          byId.set(t.tokenId, t);
        tokens = [...byId.values()];
      } else if (createdBy !== null) tokens = await tss.getDoAsTokens(createdBy);
      else tokens = await tss.getTokens(userName ?? caller);
    } catch (err) {
      if (err instanceof TokenStateUnavailable) throw unavailable(err);
      throw err;
    }
    const filters = new Map<string, string[]>();
    for (const [k, v] of q)
      if (k.startsWith('md_')) filters.set(k.slice(3), [...(filters.get(k.slice(3)) ?? []), v]);
    if (filters.size > 0) {
      tokens = tokens.filter((t) =>
        [...filters].some(([name, values]) =>
          values.includes('*')
            ? t.metadata[name] !== undefined
            : values.includes(t.metadata[name] ?? '\u0000'),
        ),
      );
    }
    tokens.sort((a, b) => a.issueTime - b.issueTime || (a.tokenId < b.tokenId ? -1 : 1));
    send(ex, { status: 200, body: { tokens: tokens.map(tokenJson) } });
  }

  function getTssStatus(ex: Exchange): void {
    ex.req.resume();
    const tss = managed ? ctx.gateway?.tokenState : undefined;
    const body: Record<string, string> = { tokenManagementEnabled: String(tss !== undefined) };
    if (tss) {
      body.configuredTssBackend = tss.configured;
      body.actualTssBackend = tss.backend;
      const allowed = allowedBackends
        ? splitList(allowedBackends, /,/).includes(tss.backend)
        : tss.backend === 'DerbyDBTokenStateService' ||
          tss.backend === 'JDBCTokenStateService' ||
          tss.backend === 'RedisTokenStateService';
      body.allowedTssForTokengen = String(allowed);
      body.maximumLifetimeSeconds = String(ttl === -1 ? -1 : Math.floor(ttl / 1000));
      body.maximumLifetimeText = ttlText(ttl);
    }
    body.lifespanInputEnabled = String(lifespanInput);
    body.impersonationEnabled = String(impersonation);
    send(ex, { status: 200, body });
  }

  return async (ex) => {
    const m = PATH.exec(ex.path);
    const op = (m?.[2] ?? 'issue') as Op;
    if (!m || (m[2] !== undefined && (m[2] === 'issue' || !Object.hasOwn(METHODS, m[2])))) {
      ex.req.resume();
      throw Errors.notFound('No KnoxToken operation at this path');
    }
    const allowed = METHODS[op][m[1] as 'v1' | 'v2'];
    if (!allowed.includes(ex.req.method ?? '')) {
      ex.req.resume();
      throw Errors.methodNotAllowed(`Use ${allowed.join(' or ')}`, {
        headers: { allow: allowed.join(', ') },
      });
    }
    try {
      return await dispatch(ex, op);
    } catch (err) {
      // Whatever operation met the outage: 503, never a 500 or a token without its state.
      if (err instanceof TokenStateUnavailable) throw unavailable(err);
      throw err;
    }
  };

  async function dispatch(ex: Exchange, op: Op): Promise<void> {
    switch (op) {
      case 'issue':
        return issue(ex);
      case 'renew':
        return renew(ex);
      case 'revoke': {
        const token = (await readText(ex.req, BODY_LIMIT)).trim();
        return send(ex, await revokeOne(ex, token, callerOf(ex)));
      }
      case 'revokeTokens': {
        const caller = callerOf(ex);
        return batch(ex, (id) => revokeOne(ex, id, caller));
      }
      case 'enable':
      case 'disable': {
        const id = (await readText(ex.req, BODY_LIMIT)).trim();
        return send(ex, await setEnabled(ex, id, op === 'enable', false));
      }
      case 'enableTokens':
      case 'disableTokens':
        return batch(ex, (id) => setEnabled(ex, id, op === 'enableTokens', true));
      case 'getUserTokens':
        return getUserTokens(ex);
      case 'getTssStatus':
        return getTssStatus(ex);
    }
  }
}

function ownedBy(record: TokenRecord, user: string): boolean {
  return user !== '' && (record.metadata.userName === user || record.metadata.createdBy === user);
}

function unavailable(err: TokenStateUnavailable) {
  return Errors.unavailable('The token state store is unreachable; retry shortly', {
    cause: err,
    headers: { 'retry-after': '5' },
  });
}
