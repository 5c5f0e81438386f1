/**
 * @module servicedef/catalog
 * Loads service definitions from directories laid out as Knox's (`{dir}/{name}/{version}/service.xml` with an
 * optional `rewrite.xml` beside it) and answers "which definition does this topology service use?" the way Knox's
 * `DeploymentFactory.getServiceContributor` does: by role, optionally narrowed by name, then the requested version or
 * the highest one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Diagnostic, DiagnosticSink } from '../config/diagnostics.ts';
import type { RewriteFilter, RewriteRule } from '../rewrite/model.ts';
import type { ServiceDefinition } from './model.ts';
import { readRewriteXml } from './rewrite-xml.ts';
import { parseServiceXml } from './service-xml.ts';

export interface ServiceDefinitionDir {
  dir: string;
  source: ServiceDefinition['source'];
}

/**
 * Orders versions part by part, numerically where both parts are numbers (`2.7.0` < `2.10.0`), missing parts
 * counting as 0 (`2.4` = `2.4.0`), as Knox's `Version` does; non-numeric parts compare as text.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.trim().split('.');
  const pb = b.trim().split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export interface ServiceCatalog {
  /**
   * The definition for a topology service. Without `version`, the highest version. Without `name`, every name for
   * the role is a candidate (Knox takes whichever name its hash map yields first; postern takes the highest
   * version, then the alphabetically first name, so the choice is stable).
   */
  resolve(role: string, name?: string, version?: string): ServiceDefinition | undefined;
  /** Every definition, by role, name, then ascending version. */
  all(): ServiceDefinition[];
  /**
   * The definitions of another source that {@link resolve} passed over for the same request because the chosen
   * one's source comes first (home before configured directories before bundled); empty when nothing competed
   * (a pinned version, or one source only).
   */
  competing(role: string, name?: string, version?: string): ServiceDefinition[];
  /**
   * A rewrite rule by name in any definition (Knox lets `route/rewrite/@apply` name another service's rule). When
   * several define it, the highest version of the alphabetically first role wins; inside one rewrite.xml the last
   * rule of that name wins, as in Knox's rule map.
   */
  findRule(name: string): { rule: RewriteRule; definition: ServiceDefinition } | undefined;
  /** A rewrite filter by name in any definition, chosen as for {@link ServiceCatalog.findRule}. */
  findFilter(name: string): { filter: RewriteFilter; definition: ServiceDefinition } | undefined;
}

/** Without a pinned version, a source of higher rank is chosen first. */
const SOURCE_RANK: Record<ServiceDefinition['source'], number> = { home: 2, other: 1, bundled: 0 };

function highest(defs: readonly ServiceDefinition[]): ServiceDefinition | undefined {
  let best: ServiceDefinition | undefined;
  for (const d of defs) if (!best || compareVersions(d.version, best.version) > 0) best = d;
  return best;
}

function byRoleNameVersion(a: ServiceDefinition, b: ServiceDefinition): number {
  if (a.role !== b.role) return a.role < b.role ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return compareVersions(a.version, b.version);
}

class Catalog implements ServiceCatalog {
  readonly #defs: ServiceDefinition[];
  /** For rule and filter lookup: roles alphabetically, highest version first within a role. */
  readonly #lookupOrder: ServiceDefinition[];

  constructor(defs: ServiceDefinition[]) {
    this.#defs = [...defs].sort(byRoleNameVersion);
    this.#lookupOrder = [...defs].sort((a, b) =>
      a.role !== b.role ? (a.role < b.role ? -1 : 1) : compareVersions(b.version, a.version),
    );
  }

  #candidates(role: string, name?: string, version?: string): ServiceDefinition[] {
    return this.#defs.filter(
      (d) =>
        d.role === role &&
        (name === undefined || d.name === name) &&
        (version === undefined || compareVersions(d.version, version) === 0),
    );
  }

  resolve(role: string, name?: string, version?: string): ServiceDefinition | undefined {
    let candidates = this.#candidates(role, name, version);
    if (version === undefined && candidates.length > 0) {
      const first = Math.max(...candidates.map((d) => SOURCE_RANK[d.source]));
      candidates = candidates.filter((d) => SOURCE_RANK[d.source] === first);
    }
    return highest(candidates);
  }

  competing(role: string, name?: string, version?: string): ServiceDefinition[] {
    if (version !== undefined) return [];
    const chosen = this.resolve(role, name);
    if (!chosen) return [];
    const passed = new Map<string, ServiceDefinition>();
    for (const d of this.#candidates(role, name)) {
      if (d.source === chosen.source) continue;
      // The best of each other source: what would have been used without the precedence.
      const prior = passed.get(d.source);
      if (!prior || compareVersions(d.version, prior.version) > 0) passed.set(d.source, d);
    }
    return [...passed.values()];
  }

  all(): ServiceDefinition[] {
    return [...this.#defs];
  }

  findRule(name: string): { rule: RewriteRule; definition: ServiceDefinition } | undefined {
    for (const definition of this.#lookupOrder) {
      const rule = definition.rewrite.rules.findLast((r) => r.name === name);
      if (rule) return { rule, definition };
    }
    return undefined;
  }

  findFilter(name: string): { filter: RewriteFilter; definition: ServiceDefinition } | undefined {
    for (const definition of this.#lookupOrder) {
      const filter = definition.rewrite.filters.findLast((f) => f.name === name);
      if (filter) return { filter, definition };
    }
    return undefined;
  }
}

function subdirectories(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Reads one `{name}/{version}` directory; `undefined` (with diagnostics) when its service.xml is unusable. */
function readDefinition(
  dir: string,
  source: ServiceDefinition['source'],
  sink: DiagnosticSink,
): ServiceDefinition | undefined {
  const serviceFile = join(dir, 'service.xml');
  try {
    const xml = parseServiceXml(readFileSync(serviceFile, 'utf8'), serviceFile, sink);
    if (!xml) return undefined;
    return { ...xml, rewrite: readRewriteXml(join(dir, 'rewrite.xml'), sink), dir, source };
  } catch (err) {
    if (err instanceof ConfigError) sink.items.push(...err.diagnostics);
    else sink.error({ file: serviceFile, line: 1, column: 1 }, `cannot read file: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Loads every `{dir}/{name}/{version}/service.xml` under the given directories. A later directory's definition of
 * the same role, name and version replaces an earlier one (a home's `data/services` overrides the bundled set).
 * A directory that does not exist is skipped with a warning; a broken definition is skipped with its errors.
 */
export function loadServiceDefinitions(dirs: ServiceDefinitionDir[]): {
  catalog: ServiceCatalog;
  diagnostics: Diagnostic[];
} {
  const sink = new DiagnosticSink();
  const byKey = new Map<string, ServiceDefinition>();
  for (const { dir, source } of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      // A home need not have its own definitions; a directory named in configuration must exist.
      if (source !== 'home')
        sink.warn({ file: dir, line: 1, column: 1 }, 'service definition directory not found');
      continue;
    }
    const seenHere = new Map<string, ServiceDefinition>();
    for (const name of subdirectories(dir)) {
      for (const version of subdirectories(join(dir, name))) {
        const defDir = join(dir, name, version);
        if (!existsSync(join(defDir, 'service.xml'))) continue;
        const def = readDefinition(defDir, source, sink);
        if (!def) continue;
        const key = `${def.role}\u0000${def.name}\u0000${canonicalVersion(def.version)}`;
        const twin = seenHere.get(key);
        if (twin) {
          sink.warn(
            def.pos,
            `service ${def.role} (name ${def.name}, version ${def.version}) is also defined in ${twin.dir}; this one is used`,
          );
        }
        seenHere.set(key, def);
        byKey.set(key, def);
      }
    }
  }
  return { catalog: new Catalog([...byKey.values()]), diagnostics: sink.items };
}

/** `2.4` and `2.4.0` are one version (see {@link compareVersions}); drop trailing zero parts for the map key. */
function canonicalVersion(version: string): string {
  const parts = version.trim().split('.');
  while (parts.length > 1 && /^0+$/.test(parts.at(-1) ?? '')) parts.pop();
  return parts.join('.');
}
