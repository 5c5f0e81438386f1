/**
 * A TLS client's view of session resumption, for the ticket-key tests (test/gateway/ticket-keys.test.ts,
 * test/cluster/tls-sessions.test.ts): the ticket a server gives a new connection, and whether a later connection
 * offering it resumed. HTTP/1.1 is offered by ALPN, as a plain HTTPS client does.
 */
import tls from 'node:tls';

/** A new connection's session ticket: the last one the server sent within 300 ms. */
export function sessionTicket(port: number, ca: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['http/1.1'] });
    let last: Buffer | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      if (last) resolve(last);
      else reject(new Error('no session ticket'));
    }, 300);
    socket.on('session', (s: Buffer) => {
      last = s;
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Whether a new connection offering `session` resumed it. */
export function resumesSession(port: number, ca: string, session: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, session, ALPNProtocols: ['http/1.1'] });
    socket.once('secureConnect', () => {
      resolve(socket.isSessionReused());
      socket.destroy();
    });
    socket.on('error', reject);
  });
}
