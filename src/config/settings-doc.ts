/**
 * @module config/settings-doc
 * The settings reference (docs/settings.md), rendered from the settings table so that it lists every property
 * postern reads with the default and syntax the reader applies. `node scripts/gen-settings-doc.ts` writes it; a
 * test fails when the file and the table disagree.
 */

import { KNOX_PROPERTIES, notImplemented, readElsewhere } from './knox-properties.ts';
import { type Family, type Setting, type SettingsTable, walkTable } from './setting.ts';
import { SETTINGS } from './settings-table.ts';

/** The reference's path in the repository. */
export const SETTINGS_DOC = 'docs/settings.md';

/** Section titles for the table's groups; settings at the top level are the "Gateway" section. */
const TITLES: Record<string, string> = {
  ssl: 'TLS towards clients',
  httpclient: 'Backend HTTP client',
  strictTransport: 'Strict transport security',
  portMapping: 'Port mapping',
  websocket: 'WebSockets',
  channels: 'Channels (pub/sub)',
  metrics: 'Metrics',
  tracing: 'Tracing',
  health: 'Health and readiness',
  homepage: 'Knox home page metadata (KNOX-METADATA)',
};

/** The default as the reference shows it. */
export function shownDefault(setting: Setting<unknown>): string {
  if (setting.shownDefault !== undefined) return setting.shownDefault;
  const value = setting.default;
  if (value === undefined) return 'unset';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : `\`${value.join(',')}\``;
  if (value instanceof Map)
    return value.size === 0 ? 'none' : `\`${[...value].map(([k, v]) => `${k}=${v}`)}\``;
  return String(value) === '' ? 'empty' : `\`${String(value)}\``;
}

const cell = (text: string) => text.replaceAll('|', '\\|');

function row(entry: Setting<unknown> | Family<unknown>): string {
  if (entry.kind === 'family') {
    return `| \`${entry.prefix}${entry.suffix}\` | none | ${cell(entry.expected)} | ${cell(entry.doc)} |`;
  }
  return `| \`${entry.key}\` | ${cell(shownDefault(entry))} | ${cell(entry.expected)} | ${cell(entry.doc)} |`;
}

/** docs/settings.md for `table`. */
export function renderSettingsReference(table: SettingsTable = SETTINGS): string {
  const sections = new Map<string, string[]>([['Gateway', []]]);
  for (const { path, entry } of walkTable(table)) {
    const title = path.length > 1 ? (TITLES[path[0]] ?? path[0]) : 'Gateway';
    if (!sections.has(title)) sections.set(title, []);
    sections.get(title)!.push(row(entry));
  }
  const out = [
    '# gateway-site settings',
    '',
    '<!-- Generated from src/config/settings-table.ts by `node scripts/gen-settings-doc.ts`; do not edit. -->',
    '',
    'Every property postern reads from `conf/gateway-site.xml`, with its default, the values it accepts and what it',
    "does. Properties Knox has keep Knox's names and defaults; `postern.*` ones are postern's own. A value that is",
    'not accepted is an error at its `<value>` (`file:line:column`), and the gateway does not start with it;',
    '`postern check` reports it too. Properties not listed here are kept as written, so a site file written for',
    'Knox loads unchanged.',
    '',
    'Durations are milliseconds, or minutes/seconds/milliseconds parts in that order (`5m`, `20s`, `1m30s`).',
  ];
  for (const [title, rows] of sections) {
    out.push('', `## ${title}`, '', '| Property | Default | Value | Meaning |', '|---|---|---|---|', ...rows);
  }
  return `${out.join('\n')}\n`;
}

/** The table of Knox's gateway-site properties with postern's status for each. */
export const KNOX_SETTINGS_DOC = 'docs/knox-settings.md';

/** How postern treats the Knox property `name` (a prefix when it ends in `.`), or undefined when unclassified. */
export function knoxStatus(name: string): { status: string; what: string } | undefined {
  const entry = [...walkTable(SETTINGS)].find(({ entry }) =>
    entry.kind === 'setting' ? entry.key === name : entry.prefix === name,
  )?.entry;
  if (entry?.kind === 'setting' && entry.ignored)
    return { status: 'accepted, not acted on', what: entry.ignored };
  if (entry) return { status: 'implemented', what: entry.doc };
  const where = readElsewhere(name);
  if (where) return { status: 'implemented', what: `read by ${where}` };
  const instead = notImplemented(name);
  if (instead) return { status: 'not implemented (warning)', what: instead };
  return undefined;
}

/** docs/knox-settings.md. */
export function renderKnoxSettings(): string {
  const rows = KNOX_PROPERTIES.map((name) => {
    const s = knoxStatus(name);
    const shown = name.endsWith('.') ? `${name}*` : name;
    return `| \`${shown}\` | ${s?.status ?? 'unclassified'} | ${cell(s?.what ?? '')} |`;
  });
  return `${[
    "# Knox's gateway-site properties in postern",
    '',
    '<!-- Generated from src/config/knox-properties.ts and src/config/settings-table.ts by `node scripts/gen-settings-doc.ts`; do not edit. -->',
    '',
    "Every property Knox's `GatewayConfigImpl` and `GatewayConfig` define (a name ending in `*` is a family), and",
    "what postern does with it. **implemented**: read with Knox's name and meaning (defaults and syntax in",
    '[settings.md](settings.md)). **accepted, not acted on** and **not implemented**: a site file that sets it loads,',
    'and the gateway log and `postern check` print a warning at the property naming it and saying what postern does',
    'instead. A property neither Knox nor postern has is warned about too, with the nearest known name.',
    '',
    '| Property | postern | What postern does |',
    '|---|---|---|',
    ...rows,
  ].join('\n')}\n`;
}
