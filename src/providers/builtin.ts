/**
 * @module providers/builtin
 * postern's built-in providers and dispatches. They register exactly as an outside plugin does: this module is
 * loaded through `loadPlugin` and its `register` export is called with the registry.
 */
import { adminDispatch } from '../admin/dispatch.ts';
import { channelsDispatch } from '../channels/dispatch.ts';
import { headerPreAuthFederationDispatch } from '../dispatch/federation-dispatch.ts';
import { haDefaultDispatch, haDispatch, haPassAllHeadersDispatch } from '../dispatch/ha/dispatch.ts';
import { configurableDispatch, defaultDispatch, passAllHeadersDispatch } from '../dispatch/http-dispatch.ts';
import { register as registerKnoxDispatches } from '../dispatch/knox/index.ts';
import type { Registry } from '../registry/index.ts';
import { knoxJwksDispatch, knoxSsoDispatch, knoxTokenDispatch } from '../security/token-services.ts';
import { anonymousAuthentication } from './authentication/anonymous.ts';
import { shiroProvider } from './authentication/shiro/index.ts';
import { aclsAuthorization } from './authorization/acls.ts';
import { pathAclsAuthorization } from './authorization/path-acls.ts';
import { headerPreAuthFederation } from './federation/header-preauth.ts';
import { jwtProvider } from './federation/jwt.ts';
import { ssoCookieProvider } from './federation/sso-cookie.ts';
import { haProvider } from './ha/index.ts';
import { staticHostmap } from './hostmap/static.ts';
import { concatIdentityAssertion } from './identity-assertion/concat.ts';
import { defaultIdentityAssertion, pseudoIdentityAssertion } from './identity-assertion/default.ts';
import { hadoopGroupIdentityAssertion } from './identity-assertion/hadoop-group.ts';
import {
  noDoAsIdentityAssertion,
  noImpersonationIdentityAssertion,
} from './identity-assertion/no-impersonation.ts';
import { regexIdentityAssertion } from './identity-assertion/regex.ts';
import { switchCaseIdentityAssertion } from './identity-assertion/switch-case.ts';
import { urlRewrite } from './rewrite/url-rewrite.ts';
import { webAppSec } from './webappsec/index.ts';

export function register(registry: Registry): void {
  registry.provider(anonymousAuthentication);
  registry.provider(shiroProvider);
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
  registry.provider(aclsAuthorization);
  registry.provider(pathAclsAuthorization);
  registry.provider(webAppSec);
  registry.dispatch(defaultDispatch);
  registry.dispatch(configurableDispatch);
  registry.dispatch(passAllHeadersDispatch);
  registry.dispatch(haDispatch);
  registry.dispatch(haDefaultDispatch);
  registry.dispatch(haPassAllHeadersDispatch);
  registry.dispatch(headerPreAuthFederationDispatch);
  registry.dispatch(knoxSsoDispatch);
  registry.dispatch(knoxTokenDispatch);
  registry.dispatch(knoxJwksDispatch);
  registry.dispatch(channelsDispatch);
  registry.dispatch(adminDispatch);
  // Knox's service-specific dispatches (Livy, NiFi, Hive, WebHDFS HA …): dispatch/knox.
  registerKnoxDispatches(registry);
}
