/**
 * @module gateway/read-body
 * The one way a service the gateway answers itself reads a request body whole (the admin API's topology, the
 * CHANNELS publish batch): at most `limit` bytes, refused with 413 as soon as the declared length or the bytes
 * received pass it. The rest of a refused body is drained, so the connection stays usable for the answer.
 * Proxied bodies are never read this way: they stream (dispatch/http-dispatch).
 */
import type { IncomingMessage } from 'node:http';
import { Errors } from '../errors.ts';

/** The request body as bytes; rejects with `POSTERN_ERR_PAYLOAD_TOO_LARGE` (413) past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => Errors.payloadTooLarge(`The body is larger than ${limit} bytes`);
    if (Number(req.headers['content-length']) > limit) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request body as UTF-8 text (see {@link readBody}). */
export async function readText(req: IncomingMessage, limit: number): Promise<string> {
  return (await readBody(req, limit)).toString('utf8');
}
