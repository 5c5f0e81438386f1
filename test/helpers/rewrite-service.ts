/**
 * A service definition written for a test, in a home's `data/services/{name}/1.0.0/`: role `role`, one route
 * `/rw/**` whose URL goes to the service's backend (`{role}/in`), an outbound rule back to the gateway
 * (`{role}/out`), and the body filters the test names, bound to the route.
 *
 * ```ts
 * writeRewriteService(home, 'RWTEST', {
 *   responseBody: '<content type="*\/json"><apply path="$.href" rule="RWTEST/out"/></content>',
 * });
 * ```
 */
import type { TestHome } from './home.ts';

export interface RewriteServiceOptions {
  /** The `<content>` elements of the response-body filter `{role}/body`, bound to `response.body`. */
  responseBody?: string;
  /** The `<content>` elements of the request-body filter `{role}/form`, bound to `request.body`. */
  requestBody?: string;
  /** More `<rule>` elements for the rewrite.xml. */
  rules?: string;
}

export function writeRewriteService(home: TestHome, role: string, options: RewriteServiceOptions = {}): void {
  const name = role.toLowerCase();
  const bind = [
    `      <rewrite apply="${role}/in" to="request.url"/>`,
    ...(options.responseBody ? [`      <rewrite apply="${role}/body" to="response.body"/>`] : []),
    ...(options.requestBody ? [`      <rewrite apply="${role}/form" to="request.body"/>`] : []),
  ];
  home.write(
    `data/services/${name}/1.0.0/service.xml`,
    `<?xml version="1.0"?>
<service role="${role}" name="${name}" version="1.0.0">
  <routes>
    <route path="/rw/**?**">
${bind.join('\n')}
    </route>
  </routes>
  <dispatch classname="org.apache.knox.gateway.dispatch.DefaultDispatch"/>
</service>`,
  );
  const filter = (suffix: string, content: string | undefined) =>
    content ? `  <filter name="${role}/${suffix}">\n    ${content}\n  </filter>\n` : '';
  home.write(
    `data/services/${name}/1.0.0/rewrite.xml`,
    `<?xml version="1.0"?>
<rules>
  <rule dir="IN" name="${role}/in" pattern="*://*:*/**/rw/{path=**}?{**}">
    <rewrite template="{$serviceUrl[${role}]}/{path=**}?{**}"/>
  </rule>
  <rule dir="OUT" name="${role}/out" pattern="{$serviceUrl[${role}]}/{path=**}?{**}">
    <rewrite template="{$frontend[url]}/rw/{path=**}?{**}"/>
  </rule>
${options.rules ?? ''}${filter('body', options.responseBody)}${filter('form', options.requestBody)}</rules>`,
  );
}
