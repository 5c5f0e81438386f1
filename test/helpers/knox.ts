/**
 * Where Knox's own service definitions are: `KNOX_SERVICES_DIR`, else `shared/knox-services` beside the
 * repository (CI clones the repository with `../shared` next to it). Tests that need them skip when absent.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KNOX_SERVICES: string =
  process.env.KNOX_SERVICES_DIR ?? fileURLToPath(new URL('../../../shared/knox-services', import.meta.url));

/** `false`, or the reason to skip, for `describe(name, { skip: knoxSkip }, …)`. */
export const knoxSkip: false | string = existsSync(KNOX_SERVICES)
  ? false
  : `Knox service definitions not found at ${KNOX_SERVICES}`;
