/**
 * @module services/admin/config-files
 * Editing Knox's simple descriptors (`conf/descriptors/*.json|yml|yaml`) and shared provider configurations
 * (`conf/shared-providers/*.json|yml|yaml`) from the console, as topologies are edited (history.ts): the file's
 * text, a check that changes nothing, a write that keeps the replaced version under
 * `data/history/{descriptors|shared-providers}/{name}/` for undo, creation and removal.
 *
 * The gateway deploys a descriptor by writing the topology it generates to `conf/topologies/{name}.xml`, which the
 * topology monitor deploys (gateway.ts, `#generate`); a change to a provider configuration regenerates every
 * descriptor's topology. A check therefore reads the proposed text as that would — a descriptor with its provider
 * configuration, a provider configuration with every descriptor that names it (or would name it, once it exists)
 * — and compiles each resulting topology as deploying it would ({@link GatewayHandle.checkTopologyModel}). A
 * descriptor naming a provider configuration that does not exist, or a provider configuration whose provider is
 * unknown or misconfigured, is an error at its line and column, and nothing is written.
 *
 * | route (below `/api/v1`) | what |
 * |---|---|
 * | `GET descriptors`, `GET shared-providers` | the files, each with what it feeds (`topology`, `topologies`) and its state; `deleted`: names with kept versions but no file |
 * | `GET {kind}/{name}/source` | `{name, file, exists, source}` |
 * | `POST {kind}/{name}/check` | the body is the proposed text: `{ok, diagnostics, topologies}`, nothing written |
 * | `PUT {kind}/{name}` | JSON (`application/json`) or YAML (`application/yaml`, `text/yaml`, `text/plain`): checked, then written whole and renamed into place (an existing file keeps its name; a new one gets `.json` or `.yml`), the gateway rescans; 201 new, 200 replaced, with the fed topologies' states and whether they were redeployed |
 * | `DELETE {kind}/{name}` | removes the file (its bytes kept for undo); a descriptor's generated topology goes with it; 409 for the descriptor of the topology serving this API and for a provider configuration a descriptor names |
 * | `GET {kind}/{name}/history[/{version}]` | the kept versions, as for topologies |
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, extname, isAbsolute, join } from 'node:path';
import { parse as parseYamlValue } from 'yaml';
import { type Diagnostic, DiagnosticSink } from '../../config/diagnostics.ts';
import { Errors } from '../../errors.ts';
import { readText } from '../../gateway/read-body.ts';
import type { Exchange, GatewayHandle } from '../../spi/index.ts';
import { DESCRIPTOR_EXTENSIONS, parseSharedProviders } from '../../topology/descriptor.ts';
import { readDescriptorSource } from '../../topology/load.ts';
import type { Topology } from '../../topology/model.ts';
import { allow, diagnosticJson, homePath, sendJson, userOf } from './common.ts';
import { type EditedKind, keepVersion, topologyFile, versionSource, versionsOf } from './history.ts';

export type ConfigKind = Extract<EditedKind, 'descriptors' | 'shared-providers'>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const EXTENSIONS: readonly string[] = DESCRIPTOR_EXTENSIONS;

interface Limits {
  maxBodyBytes: number;
}

const what = (kind: ConfigKind) => (kind === 'descriptors' ? 'descriptor' : 'provider configuration');

function dirOf(gateway: GatewayHandle, kind: ConfigKind): string {
  return kind === 'descriptors' ? gateway.layout.descriptors : gateway.layout.sharedProviders;
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.') && EXTENSIONS.includes(extname(n).toLowerCase()))
      .sort();
  } catch {
    return [];
  }
}

/** The file of a name in its directory, whichever extension it has. */
function fileOf(gateway: GatewayHandle, kind: ConfigKind, name: string): string | undefined {
  const dir = dirOf(gateway, kind);
  const found = names(dir).find((n) => basename(n, extname(n)) === name);
  return found && join(dir, found);
}

/** The `provider-config-ref` a descriptor's text names, if it parses that far. */
function referenceOf(source: string): string | undefined {
  try {
    const value = parseYamlValue(source) as Record<string, unknown> | null;
    const ref = value?.['provider-config-ref'];
    return typeof ref === 'string' || typeof ref === 'number' ? String(ref) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a descriptor's reference resolves to `file` — or would, were `file` there: the candidates in the order
 * descriptor.ts tries them, the first that exists or is `file`.
 */
function refersTo(ref: string, file: string, sharedDir: string): boolean {
  const isFile = (f: string) => f === file || (existsSync(f) && statSync(f).isFile());
  if (isAbsolute(ref)) return ref === file;
  const base = join(sharedDir, ref);
  const candidates = EXTENSIONS.includes(extname(ref)) ? [base] : [base, ...EXTENSIONS.map((e) => base + e)];
  return candidates.find(isFile) === file;
}

/** The descriptors (files and text) whose provider configuration is `file`. */
function descriptorsUsing(
  gateway: GatewayHandle,
  file: string,
): { file: string; name: string; source: string }[] {
  const dir = gateway.layout.descriptors;
  return names(dir).flatMap((n) => {
    const path = join(dir, n);
    const source = readFileSync(path, 'utf8');
    const ref = referenceOf(source);
    return ref !== undefined && refersTo(ref, file, gateway.layout.sharedProviders)
      ? [{ file: path, name: basename(n, extname(n)), source }]
      : [];
  });
}

function isGenerated(file: string): boolean {
  try {
    return /<generated>\s*true\s*<\/generated>/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/** The same problem found through several descriptors is reported once. */
function unique(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.severity} ${d.file}:${d.line}:${d.column} ${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface CheckResult {
  diagnostics: Diagnostic[];
  /** The topologies this file generates or feeds. */
  topologies: string[];
  /** For a descriptor: the provider configuration it uses, when found. */
  providerConfig?: string;
}

/** A descriptor's proposed text, read and compiled as deploying it would. */
async function checkDescriptor(gateway: GatewayHandle, name: string, file: string, source: string) {
  const read = readDescriptorSource(file, source, gateway.layout.sharedProviders);
  const target = topologyFile(gateway, name);
  let diagnostics: Diagnostic[];
  if (target && !isGenerated(target)) {
    diagnostics = [
      ...read.diagnostics,
      {
        file,
        line: 1,
        column: 1,
        severity: 'error',
        message: `descriptor would overwrite the hand-written topology ${homePath(gateway, target)}`,
      },
    ];
  } else {
    diagnostics = read.topology ? await gateway.checkTopologyModel(read) : read.diagnostics;
  }
  const result: CheckResult = { diagnostics: unique(diagnostics), topologies: [name] };
  if (read.providerConfigFile) result.providerConfig = homePath(gateway, read.providerConfigFile);
  return result;
}

/**
 * A provider configuration's proposed text: parsed, then with every descriptor that uses it, each generated
 * topology compiled; with none, its providers alone (their roles and names; params are read when a route uses
 * them, so those are checked once a descriptor names it).
 */
async function checkProviders(gateway: GatewayHandle, name: string, file: string, source: string) {
  const sink = new DiagnosticSink();
  const providers = parseSharedProviders(source, file, sink);
  const users = descriptorsUsing(gateway, file);
  const topologies = users.map((u) => u.name);
  if (sink.hasErrors || !providers) return { diagnostics: sink.items, topologies } satisfies CheckResult;
  const diagnostics: Diagnostic[] = [];
  for (const user of users) {
    const read = readDescriptorSource(user.file, user.source, gateway.layout.sharedProviders, {
      file,
      source,
    });
    diagnostics.push(...(read.topology ? await gateway.checkTopologyModel(read) : read.diagnostics));
  }
  if (users.length === 0) {
    const alone: Topology = {
      name,
      file,
      generated: true,
      providers,
      chains: [],
      services: [],
      applications: [],
      pos: { file, line: 1, column: 1 },
    };
    diagnostics.push(...(await gateway.checkTopologyModel({ topology: alone, diagnostics: sink.items })));
  }
  return { diagnostics: unique(diagnostics), topologies } satisfies CheckResult;
}

function check(gateway: GatewayHandle, kind: ConfigKind, name: string, file: string, source: string) {
  return kind === 'descriptors'
    ? checkDescriptor(gateway, name, file, source)
    : checkProviders(gateway, name, file, source);
}

function checkJson(gateway: GatewayHandle, name: string, result: CheckResult) {
  const diagnostics = result.diagnostics.map((d) => diagnosticJson(gateway, d));
  return {
    name,
    ok: !diagnostics.some((d) => d.severity === 'error'),
    diagnostics,
    topologies: result.topologies,
    ...(result.providerConfig && { providerConfig: result.providerConfig }),
  };
}

/** The body's format from its Content-Type: what a new file's extension is. */
function formatOf(ex: Exchange, kind: ConfigKind): '.json' | '.yml' {
  const type = (ex.req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return '.json';
  if (['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'].includes(type)) {
    return '.yml';
  }
  ex.req.resume();
  throw Errors.unsupportedMediaType(
    `Send the ${what(kind)} as JSON (application/json) or YAML (application/yaml)`,
  );
}

/** What each topology is now: its state, and whether it was deployed again since `before`. */
function topologyStates(gateway: GatewayHandle, names: readonly string[], before: Map<string, number>) {
  const reports = gateway.topologies();
  return names.map((name) => {
    const report = reports.find((t) => t.name === name);
    const since = report?.serving?.since.getTime();
    return {
      name,
      state: report ? (report.deployed ? 'deployed' : 'failed') : 'absent',
      serving: since !== undefined,
      ...(since !== undefined && { deployedAt: new Date(since).toISOString() }),
      redeployed: since !== undefined && since !== before.get(name),
      errors: report?.diagnostics.filter((d) => d.severity === 'error').length ?? 0,
    };
  });
}

function servingSince(gateway: GatewayHandle): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of gateway.topologies()) if (t.serving) out.set(t.name, t.serving.since.getTime());
  return out;
}

async function write(
  ex: Exchange,
  gateway: GatewayHandle,
  limits: Limits,
  kind: ConfigKind,
  name: string,
): Promise<void> {
  const ext = formatOf(ex, kind);
  const source = await readText(ex.req, limits.maxBodyBytes);
  const dir = dirOf(gateway, kind);
  const existing = fileOf(gateway, kind, name);
  const file = existing ?? join(dir, `${name}${ext}`);
  const result = await check(gateway, kind, name, file, source);
  const verdict = checkJson(gateway, name, result);
  if (!verdict.ok) {
    throw Errors.badRequest(`the ${what(kind)} does not deploy; nothing was written`, {
      details: { name, written: false, diagnostics: verdict.diagnostics, topologies: verdict.topologies },
    });
  }
  const before = servingSince(gateway);
  const previous = existing ? keepVersion(gateway, name, existing, kind) : undefined;
  // Written whole then renamed: the monitors never read half a file (a dot file is not watched).
  const temporary = join(dir, `.${basename(file)}.admin-tmp`);
  writeFileSync(temporary, source);
  renameSync(temporary, file);
  await gateway.rescan();
  const topologies = topologyStates(gateway, result.topologies, before);
  ex.log.info(
    { file, user: userOf(ex), topologies: topologies.map((t) => `${t.name}:${t.state}`) },
    `admin API wrote ${what(kind)} ${name}`,
  );
  sendJson(ex, existing ? 200 : 201, {
    name,
    file: homePath(gateway, file),
    created: !existing,
    ...(previous && { previousVersion: previous }),
    topologies,
  });
}

async function remove(ex: Exchange, gateway: GatewayHandle, self: string, kind: ConfigKind, name: string) {
  ex.req.resume();
  const file = fileOf(gateway, kind, name);
  if (!file) throw Errors.notFound(`No ${what(kind)} named ${name}`);
  if (kind === 'descriptors' && name === self) {
    throw Errors.conflict(
      `descriptor ${name} generates the topology serving this admin API; remove it by hand`,
    );
  }
  if (kind === 'shared-providers') {
    const users = descriptorsUsing(gateway, file).map((u) => u.name);
    if (users.length > 0) {
      throw Errors.conflict(
        `provider configuration ${name} is used by descriptor(s) ${users.join(', ')}: change or remove them first`,
        { details: { name, descriptors: users } },
      );
    }
  }
  const previous = keepVersion(gateway, name, file, kind);
  unlinkSync(file);
  await gateway.rescan();
  ex.log.info({ file, user: userOf(ex) }, `admin API removed ${what(kind)} ${name}`);
  sendJson(ex, 200, {
    name,
    removed: homePath(gateway, file),
    ...(previous && { previousVersion: previous }),
    ...(kind === 'descriptors' && {
      topology: name,
      serving: gateway.topologies().some((t) => t.name === name && t.serving !== undefined),
    }),
  });
}

function sourceOf(gateway: GatewayHandle, kind: ConfigKind, name: string) {
  const file = fileOf(gateway, kind, name);
  if (!file) {
    if (versionsOf(gateway, name, kind).length === 0) throw Errors.notFound(`No ${what(kind)} named ${name}`);
    // Removed, with versions kept: restoring one creates it again.
    return { name, exists: false, source: '' };
  }
  return { name, file: homePath(gateway, file), exists: true, source: readFileSync(file, 'utf8') };
}

function list(gateway: GatewayHandle, kind: ConfigKind) {
  const dir = dirOf(gateway, kind);
  const reports = gateway.topologies();
  const stateOf = (topology: string) => {
    const r = reports.find((t) => t.name === topology);
    return {
      name: topology,
      state: r ? (r.deployed ? 'deployed' : 'failed') : 'absent',
      serving: r?.serving !== undefined,
      ...(r?.serving && { deployedAt: r.serving.since.toISOString() }),
    };
  };
  const files = names(dir).map((n) => {
    const file = join(dir, n);
    const name = basename(n, extname(n));
    if (kind === 'descriptors') {
      const ref = referenceOf(readFileSync(file, 'utf8'));
      return { name, file: homePath(gateway, file), providerConfig: ref ?? null, topology: stateOf(name) };
    }
    const users = descriptorsUsing(gateway, file).map((u) => u.name);
    return { name, file: homePath(gateway, file), descriptors: users, topologies: users.map(stateOf) };
  });
  const present = new Set(files.map((f) => f.name));
  let kept: string[] = [];
  try {
    kept = readdirSync(join(gateway.layout.home, 'data', 'history', kind)).filter(
      (n) => NAME.test(n) && !present.has(n) && versionsOf(gateway, n, kind).length > 0,
    );
  } catch {
    kept = [];
  }
  return { [kind === 'descriptors' ? 'descriptors' : 'providerConfigs']: files, deleted: kept.sort() };
}

/** Answers `{API}/descriptors[/…]` and `{API}/shared-providers[/…]` (the CSRF check is done). */
export async function answerConfigFiles(
  ex: Exchange,
  gateway: GatewayHandle,
  limits: Limits,
  self: string,
  kind: ConfigKind,
  tail: string | undefined,
): Promise<void> {
  const method = ex.req.method ?? '';
  if (tail === undefined || tail === '') {
    allow(ex, ['GET', 'HEAD']);
    ex.req.resume();
    return sendJson(ex, 200, list(gateway, kind));
  }
  const [name, sub, version, ...more] = tail.split('/');
  if (!NAME.test(name)) {
    ex.req.resume();
    throw Errors.badRequest(`A ${what(kind)} name is letters, digits, ".", "_" and "-"`);
  }
  if (more.length > 0 || (version !== undefined && sub !== 'history')) {
    ex.req.resume();
    throw Errors.notFound();
  }
  if (sub === undefined) {
    allow(ex, ['PUT', 'DELETE']);
    if (method === 'PUT') return write(ex, gateway, limits, kind, name);
    return remove(ex, gateway, self, kind, name);
  }
  if (sub === 'check') {
    allow(ex, ['POST']);
    const ext = formatOf(ex, kind);
    const source = await readText(ex.req, limits.maxBodyBytes);
    const file = fileOf(gateway, kind, name) ?? join(dirOf(gateway, kind), `${name}${ext}`);
    return sendJson(ex, 200, checkJson(gateway, name, await check(gateway, kind, name, file, source)));
  }
  allow(ex, ['GET', 'HEAD']);
  ex.req.resume();
  if (sub === 'source') return sendJson(ex, 200, sourceOf(gateway, kind, name));
  if (sub === 'history' && version === undefined) {
    return sendJson(ex, 200, { name, versions: versionsOf(gateway, name, kind) });
  }
  if (sub === 'history' && version) {
    return sendJson(ex, 200, { name, version, source: versionSource(gateway, name, version, kind) });
  }
  throw Errors.notFound();
}
