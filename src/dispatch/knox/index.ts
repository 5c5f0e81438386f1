/**
 * @module dispatch/knox
 * Knox's service-specific dispatches, each in its own module and built on the plain HTTP dispatch
 * (dispatch/knox/extend): every `classname` and `ha-classname` that Knox's own service definitions name has one
 * here or among the plain and HA dispatches (dispatch/http-dispatch, dispatch/ha/dispatch). {@link register} is
 * called by the built-in plugin; {@link knoxDispatchClasses} lists what deployment can offer when a definition
 * names a class postern does not know.
 */
import type { Registry } from '../../registry/index.ts';
import type { DispatchFactory } from '../../spi/index.ts';
import {
  atlasApiHaDispatch,
  atlasApiTrustedProxyHaDispatch,
  atlasHaDispatch,
  atlasTrustedProxyHaDispatch,
} from './atlas.ts';
import { hbaseUiDispatch, hbaseUiHaDispatch } from './hbase-ui.ts';
import { hdfsHttpClientDispatch, hdfsUiHaDispatch, webHdfsHaDispatch } from './hdfs.ts';
import { hiveDispatch, hiveHaDispatch, impalaDispatch, impalaHaDispatch } from './hive.ts';
import { jkgDispatch } from './jkg.ts';
import { livyDispatch } from './livy.ts';
import { nifiDispatch, nifiHaDispatch, nifiRegistryDispatch, nifiRegistryHaDispatch } from './nifi.ts';
import { restCatalogDispatch, restCatalogHaDispatch } from './rest-catalog.ts';
import { rmHaDispatch } from './rm.ts';
import { sseDispatch, sseHaDispatch } from './sse.ts';
import { stormDispatch } from './storm.ts';
import { hbaseDispatch, passAllHeadersNoEncodingDispatch, urlDecodingDispatch } from './url-decoding.ts';

export const knoxDispatches: readonly DispatchFactory[] = [
  livyDispatch,
  jkgDispatch,
  nifiDispatch,
  nifiHaDispatch,
  nifiRegistryDispatch,
  nifiRegistryHaDispatch,
  urlDecodingDispatch,
  hbaseDispatch,
  passAllHeadersNoEncodingDispatch,
  hdfsHttpClientDispatch,
  webHdfsHaDispatch,
  hdfsUiHaDispatch,
  hiveDispatch,
  hiveHaDispatch,
  impalaDispatch,
  impalaHaDispatch,
  stormDispatch,
  hbaseUiDispatch,
  hbaseUiHaDispatch,
  restCatalogDispatch,
  restCatalogHaDispatch,
  sseDispatch,
  sseHaDispatch,
  atlasHaDispatch,
  atlasApiHaDispatch,
  atlasTrustedProxyHaDispatch,
  atlasApiTrustedProxyHaDispatch,
  rmHaDispatch,
];

export function register(registry: Registry): void {
  for (const d of knoxDispatches) registry.dispatch(d);
}

/** Every Knox class name (`org.apache.knox.…`) a dispatch of the registry stands for, sorted. */
export function knoxDispatchClasses(registry: Registry): string[] {
  return registry
    .dispatches()
    .flatMap((d) => d.classNames ?? [])
    .filter((c) => c.startsWith('org.apache.knox.'))
    .sort();
}
