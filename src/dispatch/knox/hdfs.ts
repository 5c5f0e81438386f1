/**
 * @module dispatch/knox/hdfs
 * Knox's WebHDFS dispatches (gateway-service-webhdfs):
 *
 * - HdfsHttpClientDispatch: ConfigurableDispatch that sends no request body (its `createRequestEntity` returns
 *   null). A namenode never reads one: a CREATE or APPEND is answered with a redirect to a datanode, to which the
 *   client then sends its data through the definition's datanode route. What the client sends to the namenode
 *   route is read and dropped.
 * - WebHdfsHaDispatch (AbstractHdfsHaDispatch): the same, failing over between namenodes on connection errors
 *   and on a standby's answer: a 403 whose body names `StandbyException`, `SafeModeException` or
 *   `RetriableException` (dispatch/ha/standby). With no namenode left, the last answer is the client's.
 * - HdfsUIHaDispatch: the same AbstractHdfsHaDispatch for the HDFS UI (no definition of Knox's names it).
 */
import { webHdfsStandby } from '../ha/standby.ts';
import { knoxDispatch } from './extend.ts';

const HDFS = 'org.apache.knox.gateway.hdfs.dispatch.';

export const hdfsHttpClientDispatch = knoxDispatch({
  name: 'hdfs-http-client',
  classNames: [`${HDFS}HdfsHttpClientDispatch`],
  base: { variant: 'configurable', withoutBody: true },
});

export const webHdfsHaDispatch = knoxDispatch({
  name: 'webhdfs-ha',
  classNames: [`${HDFS}WebHdfsHaDispatch`],
  base: { variant: 'configurable', withoutBody: true, standby: webHdfsStandby },
  failover: true,
});

export const hdfsUiHaDispatch = knoxDispatch({
  name: 'hdfs-ui-ha',
  classNames: [`${HDFS}HdfsUIHaDispatch`],
  base: { variant: 'configurable', withoutBody: true, standby: webHdfsStandby },
  failover: true,
});
