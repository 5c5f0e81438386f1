/**
 * Log files name users, addresses and paths: they are created readable by owner and group only (0640), and a file
 * an older version left world-readable is narrowed when the gateway opens it again.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { createAuditLog } from '../../src/observability/audit.ts';
import { createAccessLog, createLogger } from '../../src/observability/logger.ts';

const modeOf = (file: string) => statSync(file).mode & 0o777;

it('creates gateway.log, access.log and audit.log as 0640, and narrows a world-readable one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-logs-'));
  try {
    const old = process.umask(0o022);
    try {
      writeFileSync(join(dir, 'access.log'), '', { mode: 0o644 });
      const log = createLogger({ logDir: dir, stdout: false });
      const access = createAccessLog({ logDir: dir });
      const audit = createAuditLog({ logDir: dir });
      log.info('x');
      access.info('x');
      assert.ok(audit);
      // sonic-boom opens its files asynchronously: wait until all three exist.
      for (let i = 0; i < 500 && !['gateway.log', 'audit.log'].every((f) => existsSync(join(dir, f))); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const file of ['gateway.log', 'access.log', 'audit.log']) {
        assert.equal(modeOf(join(dir, file)).toString(8), '640', file);
      }
    } finally {
      process.umask(old);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
