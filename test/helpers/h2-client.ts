/**
 * An HTTP/2 client session to a test gateway's TLS listener (its self-signed certificate accepted), resolved once
 * the gateway's SETTINGS arrived; later session errors are the streams' to report.
 */
import http2, { type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';

export function connectH2(
  base: string,
  options: SecureClientSessionOptions = {},
): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base, { rejectUnauthorized: false, ...options });
    session.once('error', reject);
    session.once('remoteSettings', () => {
      session.off('error', reject);
      session.on('error', () => {});
      resolve(session);
    });
  });
}
