/**
 * One WebSocket to an echo endpoint: opened, one 64-byte text message sent and its echo awaited, then both closing
 * handshakes. Used where a connection's whole life is what is measured (test/dispatch/retention-probe.ts,
 * bench/alloc.ts `--ws`). No extension (the gateway then relays frames raw) and no automatic pong: `ws` makes that
 * pong's callback as an arrow assigned to a property, which lives in V8's old generation (test/source-closures).
 */
import { WebSocket } from 'ws';

export async function echoOnce(url: string): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false, autoPong: false });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const echoed = new Promise((resolve) => ws.once('message', resolve));
  ws.send('x'.repeat(64));
  await echoed;
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  });
}
