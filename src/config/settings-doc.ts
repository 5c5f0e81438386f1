/**
 * @module config/settings-doc
 * The settings reference (docs/settings.md), rendered from the settings table so that it lists every property
 * postern reads with the default and syntax the reader applies. `node scripts/gen-settings-doc.ts` writes it; a
 * test fails when the file and the table disagree.
 */
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
