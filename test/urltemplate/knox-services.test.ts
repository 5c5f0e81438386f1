/**
 * @module test/urltemplate/knox-services
 * Every route path, rule pattern and rewrite template in Knox's 94 service definitions parses (strictly), prints
 * back as a template that parses to the same thing, and every route path can be registered in one matcher.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTemplate, TemplateMatcher } from '../../src/urltemplate/index.ts';
import { KNOX_SERVICES } from '../helpers/knox.ts';

const ROOT = KNOX_SERVICES;

function xmlUnescape(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

interface Found {
  file: string;
  attr: string;
  value: string;
}

function collect(): Found[] {
  const found: Found[] = [];
  for (const service of readdirSync(ROOT, { withFileTypes: true })) {
    if (!service.isDirectory()) continue;
    for (const version of readdirSync(join(ROOT, service.name))) {
      for (const name of ['service.xml', 'rewrite.xml']) {
        const file = join(ROOT, service.name, version, name);
        let xml: string;
        try {
          xml = readFileSync(file, 'utf8');
        } catch {
          continue;
        }
        xml = xml.replace(/<!--[\s\S]*?-->/g, '');
        for (const m of xml.matchAll(/\s(pattern|template)\s*=\s*"([^"]*)"/g)) {
          found.push({ file, attr: m[1], value: xmlUnescape(m[2]) });
        }
        if (name === 'service.xml') {
          for (const m of xml.matchAll(/<route\b[^>]*?\spath\s*=\s*"([^"]*)"/g)) {
            found.push({ file, attr: 'route@path', value: xmlUnescape(m[1]) });
          }
        }
      }
    }
  }
  return found;
}

describe('Knox service definitions', () => {
  const all = collect();

  it('has the expected amount of material', () => {
    assert.ok(all.filter((f) => f.attr === 'route@path').length >= 490);
    assert.ok(all.filter((f) => f.attr === 'pattern').length >= 1000);
    assert.ok(all.filter((f) => f.attr === 'template').length >= 1100);
  });

  it('parses every pattern, template and route path, and re-parses its printed form to the same template', () => {
    const failures: string[] = [];
    for (const f of all) {
      try {
        const t = parseTemplate(f.value);
        const again = parseTemplate(t.toString());
        if (again.toString() !== t.toString()) failures.push(`${f.file} ${f.attr}: not stable: ${f.value}`);
      } catch (e) {
        failures.push(`${f.file} ${f.attr}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('registers every route path of every service in one matcher', () => {
    const m = new TemplateMatcher<string>();
    const routes = all.filter((f) => f.attr === 'route@path');
    for (const r of routes) m.add(parseTemplate(r.value), r.value);
    assert.equal(m.size, routes.length);
  });
});
