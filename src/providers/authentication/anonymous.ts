/**
 * @module providers/authentication/anonymous
 * Knox's `Anonymous` authentication provider: every request proceeds as the user `anonymous`. Knox's own
 * service definitions pin it (`<policy role="authentication" name="Anonymous"/>`) on UI routes that serve
 * static assets.
 */
import type { Filter, ProviderFactory } from '../../spi/index.ts';

const ANONYMOUS = Object.freeze({ name: 'anonymous', groups: Object.freeze([]) as readonly string[] });

export const anonymousAuthentication: ProviderFactory = {
  role: 'authentication',
  name: 'Anonymous',
  create(): Filter {
    return (ex, next) => {
      ex.user = ANONYMOUS;
      return next();
    };
  },
};
