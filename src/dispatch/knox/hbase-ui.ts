/**
 * @module dispatch/knox/hbase-ui
 * Knox's HBaseUIDispatch and HBaseUIHaDispatch (gateway-service-hbase): ConfigurableDispatch (HA:
 * ConfigurableHADispatch) that keeps a trailing `/` of the client's path (HBaseRequestUtil.fixTrailingSlash): the
 * HBase UI serves `/master-status/` and `/logs/` only with it, and the rewrite templates drop it.
 */
import { addTo, type DispatchContext } from '../../spi/index.ts';
import { keepTrailingSlash, knoxDispatch, type Prepare } from './extend.ts';

const prepare =
  (_ctx: DispatchContext): Prepare =>
  (ex) => {
    const slash = keepTrailingSlash(ex);
    if (slash) addTo(ex, 'targetEdits', slash);
  };

export const hbaseUiDispatch = knoxDispatch({
  name: 'hbase-ui',
  classNames: ['org.apache.knox.gateway.hbase.HBaseUIDispatch'],
  base: { variant: 'configurable' },
  prepare,
});

export const hbaseUiHaDispatch = knoxDispatch({
  name: 'hbase-ui-ha',
  classNames: ['org.apache.knox.gateway.hbase.HBaseUIHaDispatch'],
  base: { variant: 'configurable' },
  failover: true,
  prepare,
});
