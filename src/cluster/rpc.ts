/**
 * @module cluster/rpc
 * The small request/response protocol between postern's primary and its workers, over node:cluster's IPC
 * channel. A request carries an id and an operation name and is answered once, with a value or an error; a
 * request not answered within the timeout fails with {@link HubUnavailableError} (callers fail closed: 503).
 * A notification is a request nobody answers. Both sides use the same class: the worker has one towards the
 * primary, the primary one per worker.
 *
 * Messages are plain objects marked `postern: 1` (the channel also carries node:cluster's own messages):
 * `{postern: 1, kind: 'req', id, op, args}`, `{postern: 1, kind: 'res', id, ok, value | error}`,
 * `{postern: 1, kind: 'note', op, args}`.
 */

export interface RpcMessage {
  postern: 1;
  kind: 'req' | 'res' | 'note';
  id?: number;
  op?: string;
  args?: unknown;
  ok?: boolean;
  value?: unknown;
  error?: string;
}

/** The other side did not answer in time, or is gone. */
export class HubUnavailableError extends Error {
  override readonly name = 'HubUnavailableError';
}

export type RpcHandler = (args: never) => unknown;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export function isRpcMessage(m: unknown): m is RpcMessage {
  return typeof m === 'object' && m !== null && (m as { postern?: unknown }).postern === 1;
}

export class Rpc {
  readonly #send: (m: RpcMessage) => boolean | undefined;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #handlers = new Map<string, RpcHandler>();
  #next = 0;
  #closed = false;

  constructor(send: (m: RpcMessage) => boolean | undefined, timeoutMs = 5000) {
    this.#send = send;
    this.#timeoutMs = timeoutMs;
  }

  /** Answers requests and notifications named `op` (a handler may return a promise). */
  on<A>(op: string, handler: (args: A) => unknown): void {
    this.#handlers.set(op, handler as RpcHandler);
  }

  /** Asks the other side; rejects with HubUnavailableError when it does not answer within the timeout. */
  request<T>(op: string, args?: unknown, timeoutMs = this.#timeoutMs): Promise<T> {
    if (this.#closed) return Promise.reject(new HubUnavailableError(`${op}: the channel is closed`));
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new HubUnavailableError(`${op}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (!this.#post({ postern: 1, kind: 'req', id, op, args })) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new HubUnavailableError(`${op}: the channel is closed`));
      }
    });
  }

  /** Tells the other side, expecting no answer; false when the channel is closed. */
  notify(op: string, args?: unknown): boolean {
    if (this.#closed) return false;
    return this.#post({ postern: 1, kind: 'note', op, args });
  }

  /** Handles one message from the other side; false when it is not this protocol's. */
  receive(m: unknown): boolean {
    if (!isRpcMessage(m)) return false;
    if (m.kind === 'res') {
      const pending = this.#pending.get(m.id ?? -1);
      if (!pending) return true; // answered after its timeout
      this.#pending.delete(m.id!);
      clearTimeout(pending.timer);
      if (m.ok) pending.resolve(m.value);
      else pending.reject(new Error(m.error ?? 'failed'));
      return true;
    }
    const handler = this.#handlers.get(m.op ?? '');
    if (m.kind === 'note') {
      if (handler) {
        try {
          const r = handler(m.args as never) as unknown;
          if (r instanceof Promise) r.catch(() => {});
        } catch {
          // a notification has nobody to tell
        }
      }
      return true;
    }
    const id = m.id;
    const answer = (ok: boolean, value?: unknown, error?: string) =>
      this.#post({ postern: 1, kind: 'res', id, ok, ...(ok ? { value } : { error }) });
    if (!handler) {
      answer(false, undefined, `unknown operation ${m.op}`);
      return true;
    }
    try {
      const r = handler(m.args as never) as unknown;
      if (r instanceof Promise)
        r.then(
          (v) => answer(true, v),
          (err: Error) => answer(false, undefined, err?.message ?? String(err)),
        );
      else answer(true, r);
    } catch (err) {
      answer(false, undefined, (err as Error).message);
    }
    return true;
  }

  /** Fails every pending request (the other side is gone) and refuses new ones. */
  close(reason = 'the other side is gone'): void {
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new HubUnavailableError(reason));
      this.#pending.delete(id);
    }
  }

  #post(m: RpcMessage): boolean {
    try {
      return this.#send(m) !== false;
    } catch {
      return false;
    }
  }
}
