/**
 * @module dispatch/knox/hive
 * Knox's HiveDispatch / HiveHaDispatch (gateway-service-hive) and ImpalaDispatch / ImpalaHaDispatch
 * (gateway-service-impala): the HTTP transport of the JDBC/ODBC drivers. They are ConfigurableDispatch (the HA
 * ones ConfigurableHADispatch, failing over on connection errors) with one param, `basicAuthPreemptive` (default
 * false): when true the backend request carries `Authorization: Basic` of the effective user with the password
 * `*` (HiveServer2 / Impala configured for LDAP-less "trusted" HTTP auth take the user from it), except with
 * `gateway.hadoop.kerberos.secured=true`, where they authenticate with SPNEGO as every dispatch. The client's own
 * Authorization is never forwarded (ConfigurableDispatch's default).
 *
 * Cookies follow ConfigurableDispatch: the backend's `hive.server2.auth`, `impala.auth` and `hadoop.auth` cookies
 * never reach the client (its default `responseExcludeHeaders`), so a driver's cookie-based re-authentication
 * goes through the gateway's own authentication each time, as in Knox.
 */
import { addTo, type DispatchContext } from '../../spi/index.ts';
import { dispatchParams } from '../params.ts';
import { effectivePrincipal, knoxDispatch, type Prepare } from './extend.ts';

function preemptiveBasic(ctx: DispatchContext): Prepare | undefined {
  if (!dispatchParams(ctx).bool('basicAuthPreemptive', false, 'warn')) return undefined;
  // Knox's DefaultDispatch adds a dispatch's credentials only when the cluster is not Kerberos-secured: there
  // the gateway authenticates with SPNEGO (dispatch/spnego) and the backend takes the user from doAs.
  if (ctx.settings.kerberos.secured) return undefined;
  return (ex) => {
    const user = effectivePrincipal(ex);
    if (user === undefined) return;
    addTo(ex, 'addRequestHeaders', ['authorization', `Basic ${Buffer.from(`${user}:*`).toString('base64')}`]);
  };
}

export const hiveDispatch = knoxDispatch({
  name: 'hive',
  classNames: ['org.apache.knox.gateway.hive.HiveDispatch'],
  base: { variant: 'configurable' },
  prepare: preemptiveBasic,
});

export const hiveHaDispatch = knoxDispatch({
  name: 'hive-ha',
  classNames: ['org.apache.knox.gateway.hive.HiveHaDispatch'],
  base: { variant: 'configurable' },
  failover: true,
  prepare: preemptiveBasic,
});

export const impalaDispatch = knoxDispatch({
  name: 'impala',
  classNames: ['org.apache.knox.gateway.impala.ImpalaDispatch'],
  base: { variant: 'configurable' },
  prepare: preemptiveBasic,
});

export const impalaHaDispatch = knoxDispatch({
  name: 'impala-ha',
  classNames: ['org.apache.knox.gateway.impala.ImpalaHaDispatch'],
  base: { variant: 'configurable' },
  failover: true,
  prepare: preemptiveBasic,
});
