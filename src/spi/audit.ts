/**
 * @module spi/audit
 * What providers and dispatches record in the audit trail (`logs/audit.log`), as types: the writer lives in
 * observability/audit. A provider gets a {@link RouteAudit} at deployment, already bound to its topology, service
 * and provider, so a request only adds what it knows: the user, the outcome and a reason.
 */
import type { Exchange } from './exchange.ts';

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
