/**
 * @module services/admin/console
 * The web console's files (services/admin/console/: plain HTML, JS and CSS, no build step), served below
 * `{gateway}/{topology}/console/` with a strict Content-Security-Policy.
 */
import { readFileSync } from 'node:fs';
import { Errors } from '../../errors.ts';
import type { Exchange } from '../../spi/index.ts';
import { allow, writeHead } from './common.ts';

/** The console's files: a fixed list, so no request path ever reaches the file system. */
const CONSOLE_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'leaks.js': 'text/javascript; charset=utf-8',
};
const CONSOLE_DIR = new URL('./console/', import.meta.url);
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function consoleFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(CONSOLE_FILES)) files.set(name, readFileSync(new URL(name, CONSOLE_DIR)));
  return files;
}

export function serveConsole(ex: Exchange, files: Map<string, Buffer>, rest: string): void {
  allow(ex, ['GET', 'HEAD']);
  ex.req.resume();
  if (rest === '') {
    // `…/console` → `…/console/`, so the page's relative URLs resolve below it.
    ex.res.writeHead(301, { location: 'console/', 'content-length': '0' });
    ex.res.end();
    return;
  }
  const name = rest === '/' ? 'index.html' : rest.slice(1);
  const body = files.get(name);
  if (!body) throw Errors.notFound();
  writeHead(ex, 200, {
    'content-type': CONSOLE_FILES[name],
    'content-length': String(body.length),
    'cache-control': 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}
