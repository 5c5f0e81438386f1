/**
 * @module builtins
 * postern's built-ins, by family: providers (src/providers), topology-level contributors (HaProvider, hostmap),
 * dispatches (src/dispatch) and the services the gateway answers itself (src/services). They register exactly as
 * an outside plugin does: this module is loaded through `loadPlugin` and its `register` export is called with the
 * registry.
 */

import { headerPreAuthFederationDispatch } from './dispatch/federation-dispatch.ts';
import { haDefaultDispatch, haDispatch, haPassAllHeadersDispatch } from './dispatch/ha/dispatch.ts';
import { configurableDispatch, defaultDispatch, passAllHeadersDispatch } from './dispatch/http-dispatch.ts';
import { register as registerKnoxDispatches } from './dispatch/knox/index.ts';
import { anonymousAuthentication } from './providers/authentication/anonymous.ts';
import { hadoopAuthProvider } from './providers/authentication/hadoop-auth.ts';
import { shiroProvider } from './providers/authentication/shiro/index.ts';
import { aclsAuthorization } from './providers/authorization/acls.ts';
import { pathAclsAuthorization } from './providers/authorization/path-acls.ts';
import { headerPreAuthFederation } from './providers/federation/header-preauth.ts';
import { jwtProvider } from './providers/federation/jwt.ts';
import { pac4jFederation } from './providers/federation/pac4j/index.ts';
import { ssoCookieProvider } from './providers/federation/sso-cookie.ts';
import { haContributor, haProvider } from './providers/ha/index.ts';
import { hostmapContributor, staticHostmap } from './providers/hostmap/static.ts';
import { concatIdentityAssertion } from './providers/identity-assertion/concat.ts';
import { defaultIdentityAssertion, pseudoIdentityAssertion } from './providers/identity-assertion/default.ts';
import { hadoopGroupIdentityAssertion } from './providers/identity-assertion/hadoop-group.ts';
import {
  noDoAsIdentityAssertion,
  noImpersonationIdentityAssertion,
} from './providers/identity-assertion/no-impersonation.ts';
import { regexIdentityAssertion } from './providers/identity-assertion/regex.ts';
import { switchCaseIdentityAssertion } from './providers/identity-assertion/switch-case.ts';
import { urlRewrite } from './providers/rewrite/url-rewrite.ts';
import { webAppSec } from './providers/webappsec/index.ts';
import type { Registry } from './registry/index.ts';
import { adminService } from './services/admin/index.ts';
import { applicationDispatch } from './services/application/index.ts';
import { channelsService } from './services/channels/index.ts';
import { knoxAdminService } from './services/knox-admin/index.ts';
import { knoxMetadataService, knoxSessionService, knoxSsoutService } from './services/knox-ui/index.ts';
import { knoxSsoService } from './services/knoxsso/index.ts';
import { knoxJwksService, knoxTokenService } from './services/knoxtoken/index.ts';

export function register(registry: Registry): void {
  registry.provider(anonymousAuthentication);
  registry.provider(shiroProvider);
  registry.provider(hadoopAuthProvider);
  registry.provider(defaultIdentityAssertion);
  registry.provider(pseudoIdentityAssertion);
  registry.provider(hadoopGroupIdentityAssertion);
  registry.provider(concatIdentityAssertion);
  registry.provider(switchCaseIdentityAssertion);
  registry.provider(regexIdentityAssertion);
  registry.provider(noImpersonationIdentityAssertion);
  registry.provider(noDoAsIdentityAssertion);
  registry.provider(urlRewrite);
  registry.provider(staticHostmap);
  registry.provider(haProvider);
  registry.provider(headerPreAuthFederation);
  registry.provider(jwtProvider);
  registry.provider(ssoCookieProvider);
  registry.provider(pac4jFederation);
  registry.provider(aclsAuthorization);
  registry.provider(pathAclsAuthorization);
  registry.provider(webAppSec);
  registry.contributor(haContributor);
  registry.contributor(hostmapContributor);
  registry.dispatch(defaultDispatch);
  registry.dispatch(configurableDispatch);
  registry.dispatch(passAllHeadersDispatch);
  registry.dispatch(haDispatch);
  registry.dispatch(haDefaultDispatch);
  registry.dispatch(haPassAllHeadersDispatch);
  registry.dispatch(headerPreAuthFederationDispatch);
  registry.dispatch(applicationDispatch);
  // Knox's service-specific dispatches (Livy, NiFi, Hive, WebHDFS HA …): dispatch/knox.
  registerKnoxDispatches(registry);
  registry.service(knoxSsoService);
  registry.service(knoxTokenService);
  registry.service(knoxJwksService);
  registry.service(channelsService);
  registry.service(adminService);
  registry.service(knoxAdminService);
  registry.service(knoxSessionService);
  registry.service(knoxSsoutService);
  registry.service(knoxMetadataService);
}
