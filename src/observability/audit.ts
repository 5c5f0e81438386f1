/**
 * @module observability/audit
 * The audit trail: one JSON line per security decision (authentication, federation, identity assertion,
 * authorization) and per dispatch, with its outcome, in `logs/audit.log`. Knox writes the same events through its
 * `AuditService` (action, resource, outcome, principal).
 *
 * A provider gets a {@link RouteAudit} at deployment, already bound to its topology, service and provider, so a
 * request only adds what it knows: the user, the outcome and a reason. An event never carries a password, a token,
 * a cookie value or a query string. Paths: `path` is the client's, as it sent it; `resource` is the normalised path
 * below the topology that the route and every policy decided on (gateway/request-target); `backendPath`, once the
 * rewrite has built the backend URL, is the path sent to the backend (no scheme, host or query).
 */
import pino, { type Logger } from 'pino';
import { type AuditLog, kDryRun, NO_AUDIT } from '../spi/audit.ts';
import { field, jsonLines, stringField } from './json-line.ts';
import { BATCHED_LOG, logFile } from './logger.ts';

/** The path of a backend URL: `http://nn:9870/webhdfs/v1/tmp?op=X` → `/webhdfs/v1/tmp`. */
export function backendPath(url: string): string {
  const scheme = url.indexOf('://');
  let start = 0;
  if (scheme >= 0) {
    // The authority ends at the first `/`, `?` or `#` after the scheme.
    start = url.length;
    for (let i = scheme + 3; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) {
        start = i;
        break;
      }
    }
  }
  let end = url.length;
  for (let i = start; i < end; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f || c === 0x23) end = i;
  }
  return start === end ? '/' : url.slice(start, end);
}

/** Writes to `logs/audit.log` under the given directory; `POSTERN_AUDIT_LOG=silent` turns it off. */
export function createAuditLog(options: { logDir?: string; level?: string } = {}): AuditLog {
  const level = options.level ?? process.env.POSTERN_AUDIT_LOG ?? 'info';
  const stream = options.logDir
    ? logFile(options.logDir, 'audit.log', BATCHED_LOG)
    : pino.destination({ dest: 1, sync: false });
  return auditLogOn(pino({ level, base: undefined }, stream));
}

/** An audit log that records nothing (`postern check`, unit tests that compile deployments directly). */
export const silentAuditLog: AuditLog = auditLogOn(pino({ level: 'silent' }));

/** Audit events on an existing pino logger (tests give one that writes to memory). */
export function auditLogOn(logger: Logger): AuditLog {
  return {
    forRoute({ topology, service, action, provider }) {
      if (!logger.isLevelEnabled('info')) return NO_AUDIT;
      // What is the same for every event of the route is serialised once, into the child's bindings; an event
      // is one string of what the request adds (observability/json-line).
      const route = jsonLines(logger.child({ type: 'audit', action, topology, service, provider }));
      return (ex, outcome, details) => {
        if ((ex as { [kDryRun]?: true })[kDryRun] || !route.enabled()) return;
        const url = ex.req.url ?? '';
        const q = url.indexOf('?');
        route.info(
          stringField(',"outcome":', outcome) +
            stringField(',"resource":', ex.path) +
            stringField(',"method":', ex.req.method) +
            stringField(',"path":', q < 0 ? url : url.slice(0, q)) +
            stringField(',"backendPath":', ex.target === undefined ? undefined : backendPath(ex.target)) +
            stringField(',"remote":', ex.clientAddress) +
            stringField(',"reqId":', ex.id) +
            stringField(',"traceId":', ex.traceId) +
            stringField(',"user":', details?.user ?? ex.user?.name) +
            stringField(',"effectiveUser":', details?.effectiveUser) +
            stringField(',"reason":', details?.reason) +
            field(',"status":', details?.status),
        );
      };
    },
  };
}
