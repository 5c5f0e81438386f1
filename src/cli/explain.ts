/**
 * @module cli/explain
 * `postern explain [--home DIR] [--user NAME] [--group G]… [--header 'Name: value']… [--response-header 'Name: value']… [--json] METHOD URL`:
 * compiles the home's topologies as `start` would (nothing is served, nothing is sent, no file is written) and
 * explains what the gateway would do with the request (see explain/explain). Exit status: 0 when the request
 * would be proxied or answered by the gateway, 1 when it would be refused or matches nothing (or the home has
 * errors), 2 for a usage error.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type Diagnostic, formatDiagnostic } from '../config/diagnostics.ts';
import { compileDeployment } from '../deploy/compile.ts';
import type { Deployment } from '../deploy/deployment.ts';
import { explain, formatExplanation } from '../explain/index.ts';
import { applicationDirs, loadHome, REPO_ROOT, topologyName } from '../gateway/gateway.ts';
import { readHomeTopologies } from './check.ts';

export const EXPLAIN_USAGE = `usage: postern explain [--home DIR] [--user NAME] [--group GROUP]... [--header 'Name: value']... [--response-header 'Name: value']... [--json] [METHOD] URL

Explains what the gateway would do with the request: topology, route (and the routes not chosen, with why),
provider chain, each rewrite with its before and after, and the backend URL with the headers it would get.
URL is a gateway URL (https://localhost:8443/gateway/sandbox/http/items, wss://… for a WebSocket) or its path
(/gateway/sandbox/http/items). METHOD defaults to GET. Nothing is sent.

  --user NAME     explain as if NAME authenticated (authentication providers are assumed to accept it);
                  without it, authentication runs on the request as given: no credentials is a 401, with the
                  challenge that says which ones it needs (credentials in a --header are checked for real)
  --group GROUP   a group of that user (for ACLs); repeatable
  --header H      a client request header, 'Name: value'; repeatable
  --response-header H
                  a header of the backend's answer, 'Name: value' (repeatable): what the route's outbound
                  rules and the leak guard (postern.rewrite.leak.guard) make of it
  --json          print the explanation as JSON (shape: src/explain/explain.ts, version 1)
`;

/** The master secret, read but never created: explain writes nothing (encrypted queries differ without it). */
function masterSecret(home: string): Uint8Array {
  const file = join(home, 'data', 'security', 'master.secret');
  if (existsSync(file)) {
    const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (secret.length >= 32) return secret;
  }
  return randomBytes(32);
}

export async function runExplain(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`postern explain: ${(err as Error).message}\n\n${EXPLAIN_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(EXPLAIN_USAGE);
    return 0;
  }
  if (positionals.length < 1 || positionals.length > 2) {
    process.stderr.write(EXPLAIN_USAGE);
    return 2;
  }
  const [method, url] = positionals.length === 2 ? positionals : ['GET', positionals[0]];
  const headers: [string, string][] = [];
  const responseHeaders: [string, string][] = [];
  for (const [option, list] of [
    ['--header', headers],
    ['--response-header', responseHeaders],
  ] as const) {
    for (const h of (option === '--header' ? values.header : values['response-header']) ?? []) {
      const colon = h.indexOf(':');
      if (colon <= 0) {
        process.stderr.write(`postern explain: ${option} wants 'Name: value', got "${h}"\n`);
        return 2;
      }
      list.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
    }
  }

  const home = values.home ?? process.env.POSTERN_HOME ?? process.env.GATEWAY_HOME ?? REPO_ROOT;
  let loaded: Awaited<ReturnType<typeof loadHome>>;
  try {
    loaded = await loadHome(home);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 1;
  }
  const { layout, settings, registry, catalog } = loaded;
  const secret = masterSecret(layout.home);
  const read = readHomeTopologies(layout);
  const deployments = new Map<string, Deployment>();
  const undeployed = new Map<string, { file: string; diagnostics: Diagnostic[] }>();
  for (const topology of read.topologies) {
    const result = compileDeployment({
      topology,
      catalog,
      settings,
      registry,
      masterSecret: secret,
      home: layout.home,
      serviceErrors: read.diagnostics.filter((d) => d.file === topology.file),
      applicationDirs: applicationDirs(layout),
    });
    const mine = read.diagnostics.filter((d) => d.file === topology.file);
    if (result.deployment) deployments.set(topology.name, result.deployment);
    else
      undeployed.set(topology.name, { file: topology.file, diagnostics: [...mine, ...result.diagnostics] });
  }
  // Files that did not even read as a topology.
  for (const d of read.diagnostics) {
    const name = topologyName(d.file);
    if (d.severity !== 'error' || deployments.has(name)) continue;
    const entry = undeployed.get(name) ?? { file: d.file, diagnostics: [] };
    if (!entry.diagnostics.includes(d)) entry.diagnostics.push(d);
    undeployed.set(name, entry);
  }
  try {
    const explanation = await explain({ settings, deployments, undeployed }, method, url, {
      user: values.user,
      groups: values.group,
      headers,
      responseHeaders,
    });
    process.stdout.write(
      values.json
        ? `${JSON.stringify(explanation, null, 2)}\n`
        : formatExplanation(explanation, { relativeTo: layout.home }),
    );
    return explanation.outcome === 'proxied' || explanation.outcome === 'answered' ? 0 : 1;
  } finally {
    await Promise.all([...deployments.values()].map((d) => d.retire()));
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: 'string' },
      user: { type: 'string' },
      group: { type: 'string', multiple: true },
      header: { type: 'string', short: 'H', multiple: true },
      'response-header': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
