/**
 * @module services/knox-admin/config-files
 * Knox's `TopologiesResource` writes of simple descriptors and shared provider configurations:
 *
 * | route | answer |
 * |---|---|
 * | `PUT descriptors/{name}` | JSON (`.json`) or YAML as text/plain (`.yml`); 201 with a `Location` for a new one, 204 for an update (the existing file keeps its name) |
 * | `DELETE descriptors/{name}` | 200 `{ "deleted" : "descriptor NAME" }`; 304 for `admin` or one that does not exist |
 * | `PUT providerconfig/{name}` | the same; XML provider configurations are refused (415): postern reads JSON and YAML ones |
 * | `DELETE providerconfig/{name}[?force=true]` | 200 `{ "deleted" : "provider config NAME" }`; 304 when it does not exist, or a descriptor still names it and `force` is not `true` (Knox's rule) |
 *
 * Beyond Knox, whose resource writes whatever it is sent, a body that does not parse is refused with its
 * diagnostics (400) and nothing is written: a broken file never reaches the monitor. A file is written whole and
 * renamed into place, and the gateway rescans.
 */
import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { DiagnosticSink } from '../../config/diagnostics.ts';
import { Errors } from '../../errors.ts';
import { readText } from '../../gateway/read-body.ts';
import type { Exchange, GatewayHandle } from '../../spi/index.ts';
import { parseDescriptor, parseSharedProviders } from '../../topology/descriptor.ts';
import { diagnosticJson } from '../admin/api.ts';
import { userOf } from '../admin/common.ts';
import { JSON_TYPE, send } from './send.ts';

const MAX_BODY = 1024 * 1024;
const EXTENSIONS = ['.json', '.yml', '.yaml'];

export type ConfigKind = 'descriptors' | 'providerconfig';

function dirOf(gateway: GatewayHandle, kind: ConfigKind): string {
  return kind === 'descriptors' ? gateway.layout.descriptors : gateway.layout.sharedProviders;
}

function existing(dir: string, name: string): string | undefined {
  try {
    return readdirSync(dir).find(
      (n) =>
        !n.startsWith('.') &&
        EXTENSIONS.includes(extname(n).toLowerCase()) &&
        basename(n, extname(n)) === name,
    );
  } catch {
    return undefined;
  }
}

export async function putConfigFile(
  ex: Exchange,
  gateway: GatewayHandle,
  kind: ConfigKind,
  name: string,
  href: string,
): Promise<void> {
  const type = (ex.req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  const json = type === 'application/json' || type.endsWith('+json');
  if (!json && type !== 'text/plain') {
    ex.req.resume();
    throw Errors.unsupportedMediaType(
      `Send the ${kind === 'descriptors' ? 'descriptor' : 'provider configuration'} as application/json or YAML as text/plain`,
    );
  }
  const source = await readText(ex.req, MAX_BODY);
  const dir = dirOf(gateway, kind);
  const old = existing(dir, name);
  const fileName = old ?? `${name}${json ? '.json' : '.yml'}`;
  const file = join(dir, fileName);
  const sink = new DiagnosticSink();
  if (kind === 'descriptors') parseDescriptor(source, file, gateway.layout.sharedProviders, sink);
  else parseSharedProviders(source, file, sink);
  if (sink.hasErrors) {
    throw Errors.badRequest(
      `the ${kind === 'descriptors' ? 'descriptor' : 'provider configuration'} does not parse; nothing was written`,
      {
        details: { name, diagnostics: sink.items.map((d) => diagnosticJson(gateway, d)) },
      },
    );
  }
  const temporary = join(dir, `.${fileName}.knox-admin-tmp`);
  writeFileSync(temporary, source);
  renameSync(temporary, file);
  await gateway.rescan();
  ex.log.info({ file, user: userOf(ex) }, `Knox admin API wrote ${kind} ${name}`);
  if (old) return send(ex, 204, undefined);
  send(ex, 201, undefined, '', { location: href });
}

/** Whether a descriptor of the home names this provider configuration. */
function referenced(gateway: GatewayHandle, name: string): boolean {
  const dir = gateway.layout.descriptors;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => EXTENSIONS.includes(extname(n).toLowerCase()));
  } catch {
    return false;
  }
  return names.some((n) => {
    const text = readFileSync(join(dir, n), 'utf8');
    const ref = /"?provider-config-ref"?\s*:\s*"?([^"\n,}]+)"?/.exec(text)?.[1]?.trim();
    return ref !== undefined && basename(ref, extname(ref)) === name;
  });
}

export async function deleteConfigFile(
  ex: Exchange,
  gateway: GatewayHandle,
  kind: ConfigKind,
  name: string,
): Promise<void> {
  ex.req.resume();
  const dir = dirOf(gateway, kind);
  const found = existing(dir, name);
  const force = new URLSearchParams(ex.query).get('force') === 'true';
  const blocked =
    !found ||
    (kind === 'descriptors' && name === 'admin') ||
    (kind === 'providerconfig' && !force && referenced(gateway, name));
  if (blocked) return send(ex, 304, undefined);
  const file = join(dir, found);
  if (existsSync(file)) unlinkSync(file);
  await gateway.rescan();
  ex.log.info({ file, user: userOf(ex) }, `Knox admin API removed ${kind} ${name}`);
  const what = kind === 'descriptors' ? 'descriptor' : 'provider config';
  send(ex, 200, JSON_TYPE, `{ "deleted" : "${what} ${name}" }`);
}
