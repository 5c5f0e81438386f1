/**
 * @module dispatch/knox/json-body
 * An edit of a JSON request body (LivyDispatch's `proxyUser`, JkgDispatch's `KERNEL_USERNAME`): Knox parses the
 * body with Jackson into a map, sets a field and sends the map again. Here the body is read up to
 * `postern.rewrite.body.max` bytes, after any `request.body` rewrite of the route, and sent chunked.
 *
 * What Knox's dispatch guarantees must hold whatever the client sends, so every body that cannot be edited is
 * refused with the gateway's answer rather than sent unedited: no body (400), a body with a Content-Encoding
 * (415: the edit would not see the JSON), one that is not a JSON object (400), one over the limit (413).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Errors } from '../../errors.ts';
import type { BodyRewrite, BodyStreams, Exchange, HeaderMap } from '../../spi/index.ts';

export type JsonEdit = (body: Record<string, unknown>) => void;

class JsonEditStream extends Transform {
  readonly #edit: JsonEdit;
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(edit: JsonEdit, limit: number) {
    super();
    this.#edit = edit;
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#limit) {
      done(Errors.payloadTooLarge(`The JSON body is larger than ${this.#limit} bytes`));
      return;
    }
    this.#chunks.push(chunk);
    done();
  }

  override _flush(done: TransformCallback): void {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(this.#chunks).toString('utf8'));
    } catch {
      done(Errors.badRequest('The request body is not JSON'));
      return;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      done(Errors.badRequest('The request body is not a JSON object'));
      return;
    }
    this.#edit(body as Record<string, unknown>);
    done(null, Buffer.from(JSON.stringify(body), 'utf8'));
  }
}

/** Whether the client's request has a body (by its headers). */
function hasBody(ex: Exchange): boolean {
  const h = ex.req.headers;
  return h['content-length'] !== undefined
    ? h['content-length'] !== '0'
    : h['transfer-encoding'] !== undefined;
}

/**
 * Makes the exchange's request body go through `edit` (after the route's own request body rewrite, as Knox's
 * dispatch reads the rewritten stream). Throws the gateway's answer for a request whose body cannot be edited.
 */
export function editJsonBody(ex: Exchange, limit: number, edit: JsonEdit): void {
  if (!hasBody(ex)) throw Errors.badRequest('A JSON body is required');
  const encoding = ex.req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw Errors.unsupportedMediaType('A JSON body with a Content-Encoding is not accepted here');
  }
  const prior = ex.requestBody;
  const rewrite: BodyRewrite = {
    open(headers: HeaderMap): BodyStreams {
      const first = prior?.open(headers);
      const stream = new JsonEditStream(edit, limit);
      if (first) first.output.pipe(stream);
      const listeners: ((err: Error) => void)[] = [];
      first?.onError((err) => stream.destroy(err));
      stream.once('error', (err) => {
        for (const l of listeners) l(err);
      });
      return {
        input: first ? first.input : stream,
        output: stream,
        onError: (l) => listeners.push(l),
        destroy: () => {
          first?.destroy();
          stream.destroy();
        },
      };
    },
  };
  ex.requestBody = rewrite;
}
