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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Exchange } from '../providers/types.ts';

export type AuditAction =
  | 'authentication'
  | 'federation'
  | 'identity-assertion'
  | 'authorization'
  | 'webappsec'
  | 'dispatch';

/**
 * `success`; `failure` (credentials missing or wrong, 401); `denied` (authenticated but not allowed, 403);
 * `unavailable` (the decision could not be made: LDAP or JWKS unreachable, 503).
 */
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'unavailable';

export interface AuditDetails {
  /** The principal concerned: authenticated user, or the name that was tried (never a password). */
  user?: string;
  /** The effective user after identity assertion, when it differs. */
  effectiveUser?: string;
  /** Why, in a few words (e.g. `invalid credentials`, `acl`, `expired token`). */
  reason?: string;
  /** The backend's status for a dispatch event. */
  status?: number;
}

/** Bound at deployment to one topology, service and provider: a request only adds what it knows. */
export type RouteAudit = (ex: Exchange, outcome: AuditOutcome, details?: AuditDetails) => void;

/**
 * Marks an exchange that `postern explain` runs through a route's providers to see what they would decide: no
 * request happened, so nothing is audited for it.
 */
export const kDryRun = Symbol('postern.explain.dry-run');

/** What `forRoute` returns when the audit log is off: callers may skip work by comparing with it. */
export const NO_AUDIT: RouteAudit = () => {};

export interface AuditLog {
  /** An auditor for one provider of one route (called at deployment, not per request). */
  forRoute(scope: { topology: string; service: string; action: AuditAction; provider?: string }): RouteAudit;
}

/**
 * The auditor of one provider or dispatch of a route, made at deployment: its topology and service, the action
 * it decides on, and its own name as the provider.
 */
export function auditFor(
  ctx: {
    readonly audit: AuditLog;
    readonly topology: { readonly name: string };
    readonly service: { readonly role: string };
    readonly name: string;
  },
  action: AuditAction,
): RouteAudit {
  return ctx.audit.forRoute({
    topology: ctx.topology.name,
    service: ctx.service.role,
    action,
    provider: ctx.name,
  });
}

/** The path of a backend URL: `http://nn:9870/webhdfs/v1/tmp?op=X` → `/webhdfs/v1/tmp`. */
export function backendPath(url: string): string {
  const scheme = url.indexOf('://');
  const rest = scheme < 0 ? url : url.slice(scheme + 3);
  const authorityEnd = scheme < 0 ? 0 : rest.search(/[/?#]|$/);
  const path = rest.slice(authorityEnd).split(/[?#]/, 1)[0];
  return path === '' ? '/' : path;
}

/** Writes to `logs/audit.log` under the given directory; `POSTERN_AUDIT_LOG=silent` turns it off. */
export function createAuditLog(options: { logDir?: string; level?: string } = {}): AuditLog {
  const level = options.level ?? process.env.POSTERN_AUDIT_LOG ?? 'info';
  if (options.logDir) mkdirSync(options.logDir, { recursive: true });
  const dest = options.logDir ? join(options.logDir, 'audit.log') : 1;
  return auditLogOn(pino({ level, base: undefined }, pino.destination({ dest, sync: false, mkdir: true })));
}

/** An audit log that records nothing (`postern check`, unit tests that compile deployments directly). */
export const silentAuditLog: AuditLog = auditLogOn(pino({ level: 'silent' }));

/** Audit events on an existing pino logger (tests give one that writes to memory). */
export function auditLogOn(logger: Logger): AuditLog {
  return {
    forRoute({ topology, service, action, provider }) {
      if (!logger.isLevelEnabled('info')) return NO_AUDIT;
      return (ex, outcome, details) => {
        if ((ex as { [kDryRun]?: true })[kDryRun]) return;
        const url = ex.req.url ?? '';
        const q = url.indexOf('?');
        logger.info({
          type: 'audit',
          action,
          outcome,
          topology,
          service,
          provider,
          resource: ex.path,
          method: ex.req.method,
          path: q < 0 ? url : url.slice(0, q),
          backendPath: ex.target === undefined ? undefined : backendPath(ex.target),
          remote: ex.req.socket?.remoteAddress,
          reqId: ex.id,
          traceId: ex.traceId,
          user: details?.user ?? ex.user?.name,
          effectiveUser: details?.effectiveUser,
          reason: details?.reason,
          status: details?.status,
        });
      };
    },
  };
}
