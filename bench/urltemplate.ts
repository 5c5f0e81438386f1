/**
 * @module bench/urltemplate
 * Cost of routing a request with the URL-template engine: parseLiteral + TemplateMatcher.match on a request
 * path, with 10, 1,000 and 10,000 registered templates of realistic shapes (static prefixes, `{var}`, `*`,
 * `**`, partial globs, queries, absolute `*://*:*` patterns). Run: `npx node bench/urltemplate.ts`.
 */
import { parseLiteral, parseTemplate, TemplateMatcher } from '../src/urltemplate/index.ts';

/** Template shapes modelled on Knox's service definitions; `S` is replaced by a per-service name. */
const SHAPES = [
  '/S/v1/{path=**}?{**}',
  '/S/**?**',
  '/S/api/*/status',
  '/S/static/*.js',
  '/S/{version}/jobs/{id=*}?{**}',
  '/S/ui/',
  '/S/ws**',
  '*://*:*/**/S/{path=**}?{**}',
  '/S/query?{op}&{**}',
  '/S/**/middle/{f=*.xml}',
];

/** Request URLs that hit the shapes above (plus a miss). */
function requestsFor(names: string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    out.push(
      `/${n}/v1/tmp/dir/file.txt?op=OPEN&user.name=hdfs`,
      `/${n}/api/x/status`,
      `/${n}/static/app.js`,
      `/${n}/v2/jobs/job_1?x=1`,
      `/${n}/a/b/middle/c.xml`,
      `/${n}/query?op=LIST&limit=10`,
      `/${n}/ui/index.html`,
      '/no-such-service/at/all',
    );
  }
  return out;
}

function build(count: number): { matcher: TemplateMatcher<number>; names: string[] } {
  const matcher = new TemplateMatcher<number>();
  const names: string[] = [];
  const services = Math.max(1, Math.ceil(count / SHAPES.length));
  let added = 0;
  for (let s = 0; s < services && added < count; s++) {
    const name = `service${s}`;
    names.push(name);
    for (const shape of SHAPES) {
      if (added >= count) break;
      matcher.add(parseTemplate(shape.replaceAll('S', name)), added++);
    }
  }
  return { matcher, names };
}

function bench(count: number): { count: number; ns: number; hitRate: number } {
  const { matcher, names } = build(count);
  // Requests spread over the first, middle and last services.
  const pick = [names[0], names[Math.floor(names.length / 2)], names[names.length - 1]];
  const urls = requestsFor([...new Set(pick)]);
  let hits = 0;
  for (let i = 0; i < 20_000; i++) if (matcher.match(parseLiteral(urls[i % urls.length]))) hits++;
  const iterations = 300_000;
  hits = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (matcher.match(parseLiteral(urls[i % urls.length]))) hits++;
  }
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  return { count, ns, hitRate: hits / iterations };
}

const rows = [10, 1_000, 10_000].map(bench);
console.log('parseLiteral + TemplateMatcher.match (request path with query)');
console.log('| templates | ns/op | ops/s | matched |');
console.log('|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.count.toLocaleString('en')} | ${r.ns.toFixed(0)} | ${Math.round(1e9 / r.ns).toLocaleString('en')} | ${(r.hitRate * 100).toFixed(0)}% |`,
  );
}
