/**
 * @module providers/builtin
 * postern's built-in providers and dispatches. They register exactly as an outside plugin does: this module is
 * loaded through `loadPlugin` and its `register` export is called with the registry.
 */
import { configurableDispatch, defaultDispatch, passAllHeadersDispatch } from '../dispatch/http-dispatch.ts';
import type { Registry } from '../registry/index.ts';
import { anonymousAuthentication } from './authentication/anonymous.ts';
import { staticHostmap } from './hostmap/static.ts';
import { defaultIdentityAssertion } from './identity-assertion/default.ts';
import { urlRewrite } from './rewrite/url-rewrite.ts';

export function register(registry: Registry): void {
  registry.provider(anonymousAuthentication);
  registry.provider(defaultIdentityAssertion);
  registry.provider(urlRewrite);
  registry.provider(staticHostmap);
  registry.dispatch(defaultDispatch);
  registry.dispatch(configurableDispatch);
  registry.dispatch(passAllHeadersDispatch);
}
