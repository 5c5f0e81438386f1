#!/usr/bin/env node
// The `postern` command. Node 24 (the `node` devDependency) runs the TypeScript sources directly.
import '../src/cli/main.ts';
