/**
 * @module dispatch/knox/url-decoding
 * Knox's dispatches that take percent-encoding off the backend URL (the rules are in dispatch/url-encoding):
 *
 * - URLDecodingDispatch (gateway-spi; DATANODE, HDFSUI, OZONE, OZONE-SCM … name it): ConfigurableDispatch with
 *   the backend URL's path decoded once, so a path the rewrite had to encode (`%2F` in an Ozone key, a `%20` the
 *   HDFS UI built into a link) reaches the backend as its UI wrote it. The query is left as it is.
 * - HBaseDispatch (gateway-service-hbase, deprecated, HBASEUI 1.1.0): the same decoding of the path.
 * - PassAllHeadersNoEncodingDispatch (gateway-spi; AMBARI, AMBARIUI): PassAllHeadersDispatch with
 *   `removeUrlEncoding` always on: the query is decoded once (Ambari's API takes `fields=a/b,c` and predicates
 *   with `|` and `&` as written, not encoded).
 */
import { addTo } from '../../spi/index.ts';
import { decodePathOnce } from '../url-encoding.ts';
import { knoxDispatch } from './extend.ts';

export const urlDecodingDispatch = knoxDispatch({
  name: 'url-decoding',
  classNames: ['org.apache.knox.gateway.dispatch.URLDecodingDispatch'],
  base: { variant: 'configurable' },
  // The last of the target edits: identity assertion's query edits are made on the encoded form first.
  prepare: () => (ex) => addTo(ex, 'targetEdits', decodePathOnce),
});

export const hbaseDispatch = knoxDispatch({
  name: 'hbase',
  classNames: ['org.apache.knox.gateway.hbase.HBaseDispatch'],
  base: { variant: 'configurable' },
  prepare: () => (ex) => addTo(ex, 'targetEdits', decodePathOnce),
});

export const passAllHeadersNoEncodingDispatch = knoxDispatch({
  name: 'pass-all-headers-no-encoding',
  classNames: ['org.apache.knox.gateway.dispatch.PassAllHeadersNoEncodingDispatch'],
  base: { variant: 'pass-all', removeUrlEncoding: true },
});
