/**
 * @module providers/federation/pac4j/client
 * What the pac4j provider asks of one identity-provider client (pac4j's `IndirectClient`: `OidcClient`,
 * `SAML2Client`): send the browser to log in, and turn what the browser brings back into a user profile. The
 * provider keeps the login in progress (`pending`) in its encrypted cookie between the two.
 */
import type { Exchange } from '../../../spi/index.ts';

/** pac4j's `UserProfile`: the id (OIDC `sub`, SAML NameID) and every attribute or claim. */
export interface Profile {
  readonly client: string;
  readonly id: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** A login started: where to send the browser, and what the callback must find again. */
export interface LoginStart {
  readonly location: string;
  readonly pending: Readonly<Record<string, string>>;
}

export interface IdentityClient {
  /** pac4j's client name, as `clientName` and `client_name` spell it. */
  readonly name: string;
  /** The redirect URI the identity provider sends the browser back to (registered there). */
  readonly callbackUrl: string;
  /** Whether the callback arrives as a form POST (SAML's HTTP-POST binding) rather than a GET. */
  readonly postCallback: boolean;
  start(ex: Exchange): Promise<LoginStart>;
  /**
   * Validates the identity provider's answer against the login in progress.
   * @throws LoginRefused (the answer is not acceptable: 401) or IdpUnavailable (503)
   */
  callback(ex: Exchange, pending: Readonly<Record<string, string>>, form?: URLSearchParams): Promise<Profile>;
}

/** The identity provider's answer is refused; `reason` is for the audit and the log (never a token or code). */
export class LoginRefused extends Error {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.reason = reason;
  }
}

/** The identity provider cannot be reached or answers with a server error: the login cannot proceed now. */
export class IdpUnavailable extends Error {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.reason = reason;
  }
}

/** pac4j's callback parameter (`Pac4jDispatcherFilter.PAC4J_CALLBACK_PARAMETER`) and client parameter. */
export const CALLBACK_PARAM = 'pac4jCallback';
export const CLIENT_NAME_PARAM = 'client_name';

/**
 * The callback URL of a client as Knox and pac4j make it: `pac4j.callbackUrl` with `pac4jCallback=true` added
 * (Knox's `CommonHelper.addParameter`), then `client_name=<client>` (pac4j's query-parameter callback resolver).
 */
export function clientCallbackUrl(base: string, client: string): string {
  const add = (url: string, name: string, value: string) =>
    `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
  return add(add(base, CALLBACK_PARAM, 'true'), CLIENT_NAME_PARAM, client);
}

/** Loopback hosts, where plain http to an identity provider is accepted (tests, a provider on the same host). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
