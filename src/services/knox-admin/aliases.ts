/**
 * @module services/knox-admin/aliases
 * Knox's `AliasResource` (gateway-service-admin), over postern's alias service (config/aliases.ts: one encrypted
 * credential store per topology, `__gateway` for the gateway's own):
 *
 * | route | answer |
 * |---|---|
 * | `GET aliases/{topology}` | `{"topology":"…","aliases":["…"]}` (names only, never values) |
 * | `PUT aliases/{topology}/{alias}` | the body (text, JSON or XML, as Knox takes it) is the value; 201 `{ "created" : { "topology": "…", "alias": "…" } }` |
 * | `POST aliases/{topology}/{alias}` | the form field `value`; the same answer |
 * | `DELETE aliases/{topology}/{alias}` | 200 `{ "deleted" : { "topology": "…", "alias": "…" } }` |
 *
 * An empty value is 400 ("Alias value cannot be null or blank"). Alias names are kept in lower case, as Knox's
 * keystore keeps them. A deployment reads its aliases when it is deployed: a topology sees a changed alias at its
 * next deployment (a change of its file, `postern cli redeploy`-style rescan, or a restart), as with knoxcli.
 */
import { CredentialStore } from '../../config/aliases.ts';
import { Errors } from '../../errors.ts';
import { readText } from '../../gateway/read-body.ts';
import type { Exchange } from '../../spi/index.ts';
import { JSON_TYPE, send } from './send.ts';

/** The largest alias value accepted (a password, a key): far more than any needs. */
const MAX_VALUE_BYTES = 64 * 1024;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

async function aliasValue(ex: Exchange): Promise<string> {
  const text = await readText(ex.req, MAX_VALUE_BYTES);
  if (ex.req.method === 'PUT') return text;
  const type = String(ex.req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw Errors.unsupportedMediaType(
      'POST the value as the form field "value" (application/x-www-form-urlencoded)',
    );
  }
  return new URLSearchParams(text).get('value') ?? '';
}

/** Answers `aliases/{topology}[/{alias}]` for a home whose stores are keyed by `master`. */
export async function answerAliases(
  ex: Exchange,
  home: string,
  master: Uint8Array,
  topology: string | undefined,
  alias: string | undefined,
  more: readonly string[],
): Promise<void> {
  const method = ex.req.method ?? 'GET';
  if (topology === undefined || more.length > 0) {
    ex.req.resume();
    throw Errors.notFound();
  }
  if (!NAME.test(topology) || (alias !== undefined && !NAME.test(alias))) {
    ex.req.resume();
    throw Errors.badRequest(
      `Invalid ${alias === undefined || !NAME.test(topology) ? 'topology' : 'alias'} name`,
    );
  }
  const store = () => new CredentialStore(home, master, topology);
  if (alias === undefined) {
    ex.req.resume();
    if (method !== 'GET' && method !== 'HEAD') {
      throw Errors.methodNotAllowed('Use GET', { headers: { allow: 'GET, HEAD' } });
    }
    return send(ex, 200, JSON_TYPE, JSON.stringify({ topology, aliases: store().list() }));
  }
  const named = JSON.stringify({ topology, alias: alias.toLowerCase() });
  if (method === 'DELETE') {
    ex.req.resume();
    store().delete(alias);
    return send(ex, 200, JSON_TYPE, `{ "deleted" : ${named} }`);
  }
  if (method !== 'PUT' && method !== 'POST') {
    ex.req.resume();
    throw Errors.methodNotAllowed('Use PUT, POST or DELETE', { headers: { allow: 'PUT, POST, DELETE' } });
  }
  const value = await aliasValue(ex);
  if (value === '') throw Errors.badRequest('Alias value cannot be null or blank');
  store().set(alias, value);
  ex.log.info({ topology, alias: alias.toLowerCase() }, 'alias set through the Knox admin API');
  return send(ex, 201, JSON_TYPE, `{ "created" : ${named} }`);
}
