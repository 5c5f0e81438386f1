/**
 * A small WebSocket client for the README's examples (a clone has no wscat):
 *
 *   npx node scripts/ws.ts [-k] [-u USER:PASSWORD] [--count N] URL [MESSAGE...]
 *
 * Connects (with `-u`, HTTP Basic on the handshake; with `-k`, any TLS certificate), sends each MESSAGE as a text
 * frame, prints each frame received on its own line, and exits 0 once N frames have arrived (default: one per
 * MESSAGE, at least one). A refused handshake prints its status and exits 1; so does no answer within 15 s.
 */
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    insecure: { type: 'boolean', short: 'k' },
    user: { type: 'string', short: 'u' },
    count: { type: 'string' },
  },
});
const [url, ...messages] = positionals;
if (!url) {
  process.stderr.write(
    'usage: npx node scripts/ws.ts [-k] [-u USER:PASSWORD] [--count N] URL [MESSAGE...]\n',
  );
  process.exit(2);
}
const want = values.count === undefined ? Math.max(messages.length, 1) : Number(values.count);
const headers: Record<string, string> = {};
if (values.user) headers.authorization = `Basic ${Buffer.from(values.user).toString('base64')}`;
const ws = new WebSocket(url, { headers, rejectUnauthorized: !values.insecure });
const timer = setTimeout(() => {
  process.stderr.write(`no ${want} frame(s) within 15 s\n`);
  process.exit(1);
}, 15_000);
let seen = 0;
ws.on('open', () => {
  for (const m of messages) ws.send(m);
});
ws.on('message', (data) => {
  process.stdout.write(`${String(data)}\n`);
  if (++seen >= want) {
    clearTimeout(timer);
    ws.close();
  }
});
ws.on('close', () => process.exit(seen >= want ? 0 : 1));
ws.on('unexpected-response', (_req, res) => {
  process.stderr.write(`refused: ${res.statusCode} ${res.statusMessage}\n`);
  process.exit(1);
});
ws.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
