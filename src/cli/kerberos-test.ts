/**
 * @module cli/kerberos-test
 * `postern cli kerberos-test [--service-host HOST]`: the gateway's Kerberos login as a dry run, before a backend
 * needs it. It reads the home's gateway-site (`java.security.auth.login.config`, `java.security.krb5.conf`),
 * checks the JAAS file and keytab as `postern check` does, then logs in from the keytab and obtains a service
 * ticket for `HTTP/<host>` (the SPNEGO token a backend would get; default host: this machine's canonical name) —
 * it contacts the KDC, which `postern check` never does. Prints what it did, or the library's reason; nothing
 * secret (no ticket, no token).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DiagnosticSink, formatDiagnostic } from '../config/diagnostics.ts';
import { loadGatewaySite } from '../config/gateway-site.ts';
import { canonicalHost, gatewayKerberos, sitePosition } from '../kerberos/login.ts';

export async function kerberosTest(
  home: string,
  serviceHost: string | undefined,
  out: NodeJS.WritableStream,
): Promise<number> {
  const settings = loadGatewaySite(join(home, 'conf', 'gateway-site.xml'));
  const sink = new DiagnosticSink();
  const at = sitePosition(settings.file, 'java.security.auth.login.config');
  const kerberos = gatewayKerberos({ ...settings.kerberos, secured: true }, sink, at);
  for (const d of sink.items) out.write(`${formatDiagnostic(d)}\n`);
  if (!kerberos) return 1;
  const host = await canonicalHost(serviceHost ?? hostname());
  out.write(`logging in as ${kerberos.login.principal} from ${kerberos.login.keytab}\n`);
  try {
    await kerberos.token(host);
  } catch (err) {
    out.write(`cannot obtain a ticket for HTTP/${host}: ${(err as Error).message}\n`);
    return 1;
  }
  out.write(`obtained a ticket for HTTP/${host}: the gateway can authenticate to Kerberized backends\n`);
  return 0;
}
