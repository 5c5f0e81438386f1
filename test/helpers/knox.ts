/**
 * Where Knox's own service definitions are: `KNOX_SERVICES_DIR`, else `shared/knox-services` beside the
 * repository (CI clones the repository with `../shared` next to it). They are test data the compatibility claims
 * rest on, so a test file that needs them fails at once, saying where it looked, rather than skipping quietly.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KNOX_SERVICES: string =
  process.env.KNOX_SERVICES_DIR ?? fileURLToPath(new URL('../../../shared/knox-services', import.meta.url));

if (!existsSync(KNOX_SERVICES)) {
  throw new Error(
    `Knox service definitions not found at ${KNOX_SERVICES}: clone postern with ../shared beside it, or set KNOX_SERVICES_DIR`,
  );
}
