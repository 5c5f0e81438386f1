/**
 * @module dispatch/spnego-context
 * A dispatch's SPNEGO at deployment: with `gateway.hadoop.kerberos.secured=true`, the gateway's Kerberos login
 * (kerberos/login: checked once per deployment, without contacting the KDC) and the topology's
 * {@link BackendSpnego} (its cookies outlive a redeployment). When the login cannot work, every service whose
 * dispatch asks for it fails to deploy with the problems at their file:line:column — fail closed, never a plain
 * request to a secured backend.
 */
import { type Diagnostic, DiagnosticSink } from '../config/diagnostics.ts';
import { gatewayKerberos, sitePosition } from '../kerberos/login.ts';
import type { RouteContext } from '../spi/index.ts';
import { BackendSpnego } from './spnego.ts';

interface Login {
  readonly spnego?: BackendSpnego;
  readonly diagnostics: readonly Diagnostic[];
  /** The services' sinks already told (a service has one per route). */
  readonly told: WeakSet<DiagnosticSink>;
}

/** The topology's SPNEGO client when Kerberos is on; undefined when it is off (or failed, reported to ctx.sink). */
export function backendSpnego(ctx: RouteContext): BackendSpnego | undefined {
  const settings = ctx.settings.kerberos;
  if (!settings.secured) return undefined;
  const login = ctx.shared<Login>('kerberos-login', () => {
    const sink = new DiagnosticSink();
    const at = sitePosition(
      ctx.settings.file,
      settings.loginConfig ? 'java.security.auth.login.config' : 'gateway.hadoop.kerberos.secured',
    );
    const kerberos = gatewayKerberos(settings, sink, at);
    const spnego = kerberos
      ? ctx.sharedAcrossDeployments(
          `spnego:${ctx.topology.name}:${kerberos.login.principal}`,
          () => new BackendSpnego(kerberos),
        )
      : undefined;
    return { spnego, diagnostics: sink.items, told: new WeakSet() };
  });
  if (!login.told.has(ctx.sink)) {
    login.told.add(ctx.sink);
    for (const d of login.diagnostics) {
      if (d.severity === 'error') ctx.sink.error(d, d.message);
      else ctx.sink.warn(d, d.message);
    }
  }
  return login.spnego;
}
