/**
 * The leak survey behind docs/ui-leaks.md: every service definition of a directory (Knox's 94 in
 * shared/knox-services, or postern's bundled ones) deployed in a real gateway, one topology each, in front of one
 * generic fake backend that answers every route three ways, each naming its own origin the way real UIs do:
 * - `redirect`: `302 Location: {origin}{path}/next/` (Oozie's `/oozie` → `/oozie/`, YARN's add-the-slash);
 * - `html`: a page whose `<a href>` and `<img src>` are absolute URLs of its origin;
 * - `json`: `{"href": "{origin}{path}/next", "items": [{"url": …}]}` (Oozie's `consoleUrl`).
 * After the definition's own outbound rules, a response that still holds `//{backend host:port}` leaks. That check
 * is plain text search, independent of the guard, and what the guard reported for the same request is recorded
 * beside it (so the survey also measures the guard's misses and false reports). Then the same with
 * `postern.rewrite.leak.guard=rewrite`: what is left.
 *
 * `scripts/gen-ui-leaks.ts` writes the tables (`npm run docs:ui-leaks`); test/rewrite/leak-survey.test.ts checks
 * docs/ui-leaks.md is current.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { Agent, request } from 'undici';
import { Gateway, REPO_ROOT } from '../../src/gateway/gateway.ts';
import type { RewriteLeakEvent } from '../../src/observability/events.ts';
import { loadServiceDefinitions } from '../../src/servicedef/catalog.ts';
import { makeHome, topologyXml } from '../helpers/home.ts';
import { makeAuthority } from '../helpers/pki.ts';

export const KINDS = ['redirect', 'html', 'json'] as const;
export type Kind = (typeof KINDS)[number];

export interface SurveyRow {
  /** `dir/version` (`oozieui/4.2.0`). */
  definition: string;
  role: string;
  /** Distinct request paths tried (one per route template). */
  paths: number;
  /** Why the topology did not deploy, if it did not. */
  failed?: string;
  /** Paths whose answer of each kind leaked, after the definition's rules. */
  leaks: Record<Kind, string[]>;
  /** The same with the guard in rewrite mode. */
  left: Record<Kind, string[]>;
  /** Requests where the guard's report and the text search disagreed (report mode). */
  missed: number;
  falseReports: number;
}

/** A concrete request path for a route template (`/oozie/**?**` → `/oozie/leak`). */
export function samplePath(template: string): string {
  const path = template.split('?')[0];
  const concrete = path
    .replace(/\{[^}]*\}/g, 'leak')
    .replace(/\*\*/g, 'leak')
    .replace(/\*/g, 'leak');
  return concrete.startsWith('/') ? concrete : `/${concrete}`;
}

function answer(kind: string, origin: string, pathname: string): [number, Record<string, string>, string] {
  const dir = pathname.replace(/\/+$/, '');
  switch (kind) {
    case 'redirect':
      return [302, {}, `${origin}${dir}/next/`];
    case 'html':
      return [
        200,
        { 'content-type': 'text/html; charset=utf-8' },
        `<!doctype html><html><body><a href="${origin}${dir}/next">next</a><img src="${origin}${dir}/logo.png"></body></html>`,
      ];
    default:
      return [
        200,
        { 'content-type': 'application/json' },
        JSON.stringify({ href: `${origin}${dir}/next`, items: [{ url: `${origin}${dir}/item/1` }] }),
      ];
  }
}

interface Definition {
  definition: string;
  role: string;
  version: string;
  paths: string[];
}

function definitionsIn(dir: string): Definition[] {
  const { catalog } = loadServiceDefinitions([{ dir, source: 'other' }]);
  return catalog
    .all()
    .map((d) => ({
      definition: d.dir
        .slice(dir.length + 1)
        .split(/[\\/]/)
        .join('/'),
      role: d.role,
      version: d.version,
      paths: [...new Set(d.routes.map((r) => samplePath(r.path)))].sort(),
    }))
    .sort((a, b) => (a.definition < b.definition ? -1 : a.definition > b.definition ? 1 : 0));
}

/**
 * Runs the survey over the definitions in `dir` (its `name/version` folders), given to the gateway as
 * `postern.services.dirs` (`servicesDirs: ''` for the bundled ones, which it has anyway).
 */
export async function survey(dir: string, options: { servicesDirs?: string } = {}): Promise<SurveyRow[]> {
  const definitions = definitionsIn(dir);
  let origin = '';
  const backend = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const kind = String(req.headers['x-leak-kind'] ?? 'json');
    const [status, headers, body] = answer(kind, origin, url.pathname);
    if (status === 302) res.writeHead(302, { location: body, 'content-length': 0 });
    else res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(status === 302 ? undefined : body);
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const needle = `//${origin.slice('http://'.length)}`;
  const rows = new Map<string, SurveyRow>();
  const agent = new Agent({ connections: 8 });
  const events: RewriteLeakEvent[] = [];
  const listener = (e: unknown) => events.push(e as RewriteLeakEvent);
  diagnostics_channel.subscribe('postern:rewrite-leak', listener);
  try {
    for (const mode of ['report', 'rewrite'] as const) {
      const servicesDirs = options.servicesDirs ?? dir;
      const home = makeHome({
        ...(servicesDirs !== '' && { 'postern.services.dirs': servicesDirs }),
        'postern.rewrite.leak.guard': mode,
        'postern.rewrite.leak.guard.bodies': 'text',
      });
      // The gateway's own certificate, which a running Knox always has (NIFI's two-way TLS asks for it).
      mkdirSync(join(home.dir, 'data', 'security'), { recursive: true });
      makeAuthority(join(home.dir, 'data', 'security'), 'gateway');
      const names = new Map<Definition, string>();
      definitions.forEach((d, i) => {
        const name = `t${i}`;
        names.set(d, name);
        home.write(
          `conf/topologies/${name}.xml`,
          topologyXml({ services: [{ role: d.role, version: d.version, urls: [origin] }] }),
        );
      });
      const gateway = await Gateway.start({
        home: home.dir,
        port: 0,
        host: '127.0.0.1',
        log: pino({ level: 'silent' }),
        watch: false,
      });
      try {
        for (const d of definitions) {
          const name = names.get(d)!;
          let row = rows.get(d.definition);
          if (!row) {
            row = {
              definition: d.definition,
              role: d.role,
              paths: d.paths.length,
              leaks: { redirect: [], html: [], json: [] },
              left: { redirect: [], html: [], json: [] },
              missed: 0,
              falseReports: 0,
            };
            rows.set(d.definition, row);
          }
          const status = gateway.status.get(name);
          if (!status?.deployed) {
            row.failed =
              (status?.diagnostics ?? []).find((x) => x.severity === 'error')?.message ?? 'not deployed';
            continue;
          }
          for (const path of d.paths) {
            for (const kind of KINDS) {
              const before = events.length;
              let leaked = false;
              try {
                const res = await request(`${gateway.url}/${name}${path}`, {
                  headers: { 'x-leak-kind': kind },
                  dispatcher: agent,
                  signal: AbortSignal.timeout(15_000),
                });
                const body = await res.body.text();
                const location = String(res.headers.location ?? '');
                leaked = location.includes(needle) || body.includes(needle);
              } catch {
                leaked = false;
              }
              if (mode === 'report') {
                const reported = events.slice(before).some((e) => e.topology === name);
                if (leaked) row.leaks[kind].push(path);
                if (leaked && !reported) row.missed++;
                if (!leaked && reported) row.falseReports++;
              } else if (leaked) row.left[kind].push(path);
            }
          }
        }
      } finally {
        await gateway.close();
        home.remove();
      }
    }
  } finally {
    diagnostics_channel.unsubscribe('postern:rewrite-leak', listener);
    await agent.close();
    await new Promise<void>((r) => backend.close(() => r()));
  }
  return [...rows.values()];
}

const count = (row: SurveyRow, kind: Kind, which: 'leaks' | 'left') =>
  row.failed ? '—' : `${row[which][kind].length}/${row.paths}`;

function table(rows: readonly SurveyRow[]): string {
  const lines = [
    '| definition | role | paths | redirect leaks | HTML leaks | JSON leaks | left with `rewrite` (redirect / HTML / JSON) | redirects that leak |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const left = r.failed ? '—' : `${r.left.redirect.length} / ${r.left.html.length} / ${r.left.json.length}`;
    const redirects = r.failed
      ? `not deployed: ${r.failed.replace(/\|/g, '\\|')}`
      : r.leaks.redirect.map((p) => `\`${p}\``).join(' ');
    lines.push(
      `| ${r.definition} | ${r.role} | ${r.paths} | ${count(r, 'redirect', 'leaks')} | ${count(r, 'html', 'leaks')} | ${count(r, 'json', 'leaks')} | ${left} | ${redirects} |`,
    );
  }
  return lines.join('\n');
}

function totals(rows: readonly SurveyRow[]): string {
  const deployed = rows.filter((r) => !r.failed);
  const sum = (f: (r: SurveyRow) => number) => deployed.reduce((n, r) => n + f(r), 0);
  const paths = sum((r) => r.paths);
  const leaking = (k: Kind) => deployed.filter((r) => r.leaks[k].length > 0).length;
  return [
    `${rows.length} definitions, ${deployed.length} deployed, ${paths} request paths, each asked for a redirect, an HTML page and JSON.`,
    `Definitions with at least one leak: redirect ${leaking('redirect')}, HTML ${leaking('html')}, JSON ${leaking('json')}.`,
    `Leaking answers: redirect ${sum((r) => r.leaks.redirect.length)}, HTML ${sum((r) => r.leaks.html.length)}, JSON ${sum((r) => r.leaks.json.length)}; ` +
      `left with \`rewrite\`: ${sum((r) => r.left.redirect.length)}, ${sum((r) => r.left.html.length)}, ${sum((r) => r.left.json.length)}.`,
    `The guard in \`report\` mode missed ${sum((r) => r.missed)} leaking answers and reported ${sum((r) => r.falseReports)} that did not leak.`,
  ].join('\n');
}

export const UI_LEAKS_DOC = 'docs/ui-leaks.md';
export const UI_LEAKS_TABLES = { begin: '<!-- survey:begin -->', end: '<!-- survey:end -->' };

/** The generated part of docs/ui-leaks.md. */
export function renderSurvey(knox: readonly SurveyRow[], bundled: readonly SurveyRow[]): string {
  return [
    UI_LEAKS_TABLES.begin,
    '<!-- Generated by `npm run docs:ui-leaks` (scripts/gen-ui-leaks.ts, test/rewrite/leak-survey.ts); do not edit. -->',
    '',
    "### Knox's definitions (shared/knox-services)",
    '',
    totals(knox),
    '',
    table(knox),
    '',
    "### postern's bundled definitions (services/)",
    '',
    totals(bundled),
    '',
    table(bundled),
    UI_LEAKS_TABLES.end,
  ].join('\n');
}

export const BUNDLED_SERVICES = join(REPO_ROOT, 'services');
