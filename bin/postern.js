#!/usr/bin/env node
// The `postern` command. Node 24 (the `node` devDependency) runs the TypeScript sources directly.
//
// This one file is JavaScript so that it can turn on Node's compile cache before the first TypeScript module
// loads: the stripped sources and V8's bytecode are kept on disk and reused by the next process that loads the same
// files. Stripping types starts a WebAssembly compiler in each process (about 0.2 s) and compiling the gateway's
// modules takes longer; with the cache a process does neither, so `postern start` (and each of its workers, and the
// process `cli/node-flags.ts` re-executes with its V8 flags) starts in about half the time.
//
// The cache is kept in the installation's own `node_modules/.cache/postern-compile`, written by whoever installed
// postern (a shared temporary directory would let another local user plant bytecode); when it is not writable
// there is no cache. Node checks each entry against its source, so an edited file is compiled again.
// `NODE_COMPILE_CACHE=DIR` puts the cache elsewhere, `NODE_DISABLE_COMPILE_CACHE=1` turns it off.
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';

if (process.env.NODE_COMPILE_CACHE === undefined && process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
  enableCompileCache(fileURLToPath(new URL('../node_modules/.cache/postern-compile', import.meta.url)));
}
await import('../src/cli/main.ts');
