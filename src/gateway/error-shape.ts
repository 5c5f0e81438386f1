/**
 * @module gateway/error-shape
 * The body of an error the gateway answers itself, for routes whose clients expect their service's own error
 * format: a WebHDFS client (HdfsCLI, `hadoop fs` over webhdfs://) reads `{"RemoteException":{...}}` and raises
 * the Java exception it names, where the gateway's JSON would leave it with a parse error. Chosen per route at
 * deployment by the service's role; the status, code and request id stay the gateway's (the request id and code
 * travel in headers, `x-request-id` and `x-postern-error`).
 */
import type { IncomingMessage } from 'node:http';
import type { GatewayError } from '../errors.ts';
import type { ServiceFactory } from '../spi/index.ts';

/**
 * Writes an error's body for one route's clients; undefined leaves the gateway's JSON body. `headers` are added
 * to the answer (an HTML page's Content-Security-Policy).
 */
export type ErrorShape = (
  error: GatewayError,
  requestId: string,
  req?: IncomingMessage,
) => { contentType: string; body: string; headers?: Record<string, string> } | undefined;

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

/**
 * The error shape of a service the gateway answers itself that renders errors as a page for browsers
 * ({@link ServiceFactory.errorPage}: the admin console's HTML 403); other clients keep the JSON body.
 */
export function servicePageShape(service: ServiceFactory | undefined): ErrorShape | undefined {
  const page = service?.errorPage;
  if (!page) return undefined;
  return (error, requestId, req) => {
    const accept = req?.headers.accept;
    const html = page.call(
      service,
      { status: error.status, code: error.code, message: error.message, requestId },
      typeof accept === 'string' ? accept : undefined,
    );
    return html === undefined
      ? undefined
      : {
          contentType: 'text/html; charset=utf-8',
          body: html,
          headers: {
            'content-security-policy':
              "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            'x-content-type-options': 'nosniff',
          },
        };
  };
}
