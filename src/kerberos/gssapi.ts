/**
 * @module kerberos/gssapi
 * The GSSAPI binding, loaded only when Kerberos is configured. postern uses MongoDB's `kerberos` package (an
 * N-API addon over MIT krb5's libgssapi): an optional dependency, built from source against Debian's
 * `libkrb5-dev` when it is installed. A machine without it runs postern as long as nothing asks for Kerberos;
 * a configuration that does gets {@link bindingProblem}'s message, which names the package and the command.
 *
 * The binding is loaded synchronously (through `createRequire`) so that a deployment can tell at once whether
 * Kerberos can work; its calls run on libuv's thread pool.
 */
import { createRequire } from 'node:module';

/** A client security context (one per SPNEGO token the gateway sends). */
export interface GssClient {
  step(challenge: string): Promise<string>;
  readonly contextComplete: boolean;
}

/** An acceptor context (one per token a client sends the front door). */
export interface GssServer {
  step(challenge: string): Promise<string>;
  /** The client's principal once the context is complete. */
  readonly username: string;
  readonly response: string;
  readonly contextComplete: boolean;
}

export interface GssBinding {
  initializeClient(
    service: string,
    options?: { principal?: string; mechOID?: number; gssFlag?: number },
  ): Promise<GssClient>;
  initializeServer(service: string): Promise<GssServer>;
  readonly GSS_MECH_OID_SPNEGO: number;
  readonly GSS_MECH_OID_KRB5: number;
}

export const REBUILD_HINT =
  "install Debian's libkrb5-dev (apt-get install libkrb5-dev) and build the binding: npm rebuild kerberos";

let loaded: GssBinding | undefined;
let failure: string | undefined;

function load(): void {
  if (loaded || failure) return;
  try {
    const require = createRequire(import.meta.url);
    loaded = require(process.env.POSTERN_GSSAPI_MODULE ?? 'kerberos') as GssBinding;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    failure =
      code === 'MODULE_NOT_FOUND'
        ? `the GSSAPI binding (npm package kerberos) is not installed or was not built: ${REBUILD_HINT}`
        : `the GSSAPI binding (npm package kerberos) does not load (${(err as Error).message.split('\n')[0]}): ${REBUILD_HINT}`;
  }
}

/** Why the binding cannot be used, or undefined when it loads. */
export function bindingProblem(): string | undefined {
  load();
  return failure;
}

/** The binding; throws with {@link bindingProblem}'s message when it does not load. */
export function gssapi(): GssBinding {
  load();
  if (!loaded) throw new Error(failure);
  return loaded;
}
