/**
 * @module services/admin/history
 * Editing topologies from the console: a topology's source as written, a check without writing, and the
 * previous versions for undo. Before the admin API replaces (or removes) a topology file, the file's current
 * bytes are kept as `data/history/topologies/{name}/{timestamp}.xml` (the last {@link KEEP} versions), so a
 * change can be undone by deploying the previous version again — through the same check as any deploy.
 *
 * | route (below `/api/v1/topologies/{name}`) | what |
 * |---|---|
 * | `GET …/source` | `{name, file, source, generated}`: the file as it is on disk |
 * | `POST …/check` | the body is topology XML: `{ok, diagnostics}`, nothing written |
 * | `GET …/history` | `{versions: [{version, time, bytes}]}`, newest first |
 * | `GET …/history/{version}` | `{version, source}` |
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Errors } from '../../errors.ts';
import { DESCRIPTOR_EXTENSIONS, TOPOLOGY_EXTENSIONS } from '../../gateway/home.ts';
import type { GatewayHandle } from '../../spi/index.ts';
import { homePath } from './common.ts';

/** Versions kept per file. */
export const KEEP = 20;
/** A version's name: the UTC time it was replaced, filename-safe (`2026-12-06T11-18-47-123Z`). */
const VERSION = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z(?:-\d+)?$/;
/** What a version's file may end with: a topology's `.xml`, a descriptor's or provider configuration's. */
const VERSION_EXTENSIONS = ['.xml', '.json', '.yml', '.yaml'];

/** The kinds of files the console edits, each with its history under `data/history/{kind}/{name}/`. */
export type EditedKind = 'topologies' | 'descriptors' | 'shared-providers';

export function historyDir(gateway: GatewayHandle, name: string, kind: EditedKind = 'topologies'): string {
  return join(gateway.layout.home, 'data', 'history', kind, name);
}

/** The topology file of a name, if there is one (any of the topology extensions). */
export function topologyFile(gateway: GatewayHandle, name: string): string | undefined {
  return TOPOLOGY_EXTENSIONS.map((ext) => join(gateway.layout.topologies, `${name}${ext}`)).find((f) =>
    existsSync(f),
  );
}

export function descriptorFile(gateway: GatewayHandle, name: string): string | undefined {
  return DESCRIPTOR_EXTENSIONS.map((ext) => join(gateway.layout.descriptors, `${name}${ext}`)).find((f) =>
    existsSync(f),
  );
}

/**
 * Keeps the current bytes of `file` as the newest version of `name` (with the file's extension); drops versions
 * beyond {@link KEEP}.
 */
export function keepVersion(
  gateway: GatewayHandle,
  name: string,
  file: string,
  kind: EditedKind = 'topologies',
): string | undefined {
  if (!existsSync(file)) return undefined;
  const dir = historyDir(gateway, name, kind);
  mkdirSync(dir, { recursive: true });
  const ext = VERSION_EXTENSIONS.includes(extname(file).toLowerCase()) ? extname(file).toLowerCase() : '.xml';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let version = stamp;
  for (let n = 1; versionFile(dir, version); n++) version = `${stamp}-${n}`;
  writeFileSync(join(dir, `${version}${ext}`), readFileSync(file));
  const all = versionsOf(gateway, name, kind);
  for (const old of all.slice(KEEP)) unlinkSync(join(dir, old.file));
  return version;
}

/** The file of a version in a history directory, whatever its extension. */
function versionFile(dir: string, version: string): string | undefined {
  return VERSION_EXTENSIONS.map((ext) => `${version}${ext}`).find((f) => existsSync(join(dir, f)));
}

/** The kept versions of a file, newest first. */
export function versionsOf(gateway: GatewayHandle, name: string, kind: EditedKind = 'topologies') {
  const dir = historyDir(gateway, name, kind);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => VERSION_EXTENSIONS.includes(extname(n)) && VERSION.test(basename(n, extname(n))))
    .map((file) => ({ file, version: basename(file, extname(file)) }))
    .sort((a, b) => (a.version < b.version ? 1 : a.version > b.version ? -1 : 0))
    .map(({ file, version }) => {
      const stat = statSync(join(dir, file));
      return { version, file, time: stat.mtime.toISOString(), bytes: stat.size };
    });
}

export function versionSource(
  gateway: GatewayHandle,
  name: string,
  version: string,
  kind: EditedKind = 'topologies',
): string {
  if (!VERSION.test(version)) throw Errors.badRequest('A version is a timestamp as the history lists it');
  const dir = historyDir(gateway, name, kind);
  const file = versionFile(dir, version);
  if (!file) throw Errors.notFound(`No version ${version} of ${name}`);
  return readFileSync(join(dir, file), 'utf8');
}

/** The topology's source as on disk, and whether it is generated from a descriptor (then not editable here). */
export function sourceOf(gateway: GatewayHandle, name: string) {
  const file = topologyFile(gateway, name);
  if (!file) throw Errors.notFound(`No topology file named ${name}`);
  const descriptor = descriptorFile(gateway, name);
  return {
    name,
    file: homePath(gateway, file),
    source: readFileSync(file, 'utf8'),
    ...(descriptor && { generatedFrom: homePath(gateway, descriptor) }),
  };
}
