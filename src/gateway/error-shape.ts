/**
 * @module gateway/error-shape
 * The body of an error the gateway answers itself, for routes whose clients expect their service's own error
 * format: a WebHDFS client (HdfsCLI, `hadoop fs` over webhdfs://) reads `{"RemoteException":{...}}` and raises
 * the Java exception it names, where the gateway's JSON would leave it with a parse error. Chosen per route at
 * deployment by the service's role; the status, code and request id stay the gateway's (the request id and code
 * travel in headers, `x-request-id` and `x-postern-error`).
 */
import type { GatewayError } from '../errors.ts';

/** Writes an error's body for one route's clients. */
export type ErrorShape = (error: GatewayError, requestId: string) => { contentType: string; body: string };

/** Hadoop's exception for a status, as its WebHDFS ExceptionHandler maps them the other way. */
function hadoopException(status: number): [string, string] {
  switch (status) {
    case 400:
      return ['IllegalArgumentException', 'java.lang.IllegalArgumentException'];
    case 401:
      return ['SecurityException', 'java.lang.SecurityException'];
    case 403:
      return ['AccessControlException', 'org.apache.hadoop.security.AccessControlException'];
    case 404:
      return ['FileNotFoundException', 'java.io.FileNotFoundException'];
    case 405:
      return ['UnsupportedOperationException', 'java.lang.UnsupportedOperationException'];
    default:
      return ['IOException', 'java.io.IOException'];
  }
}

/** WebHDFS's `RemoteException` body (hadoop-hdfs JsonUtil.toJsonString(Exception)). */
export const webHdfsErrorShape: ErrorShape = (error) => {
  const [exception, javaClassName] = hadoopException(error.status);
  return {
    contentType: 'application/json',
    body: JSON.stringify({ RemoteException: { exception, javaClassName, message: error.message } }),
  };
};

/** The error shape of a service role's routes, when its clients expect one. */
export function errorShapeFor(role: string): ErrorShape | undefined {
  return role === 'WEBHDFS' ? webHdfsErrorShape : undefined;
}
