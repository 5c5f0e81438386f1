/**
 * @module dispatch/ha/standby
 * How Knox's service-specific HA dispatches tell a standby's answer from an active backend's: such an answer is
 * failed over like a connect error (the standby did not carry the request out), and written to the client only
 * when no other URL is left, as Knox writes the last answer when its attempts run out.
 *
 * Knox reads the whole body of a suspect answer into memory (`BufferedHttpEntity`); postern holds at most
 * {@link PEEK_LIMIT} bytes of it (a standby's answer is a short error document): a longer body is not a standby's
 * and streams on unchanged. Any other status streams at once, never held.
 */
import type { HeaderMap } from '../../spi/index.ts';

/** The most of a suspect answer's body held to look into (bytes). */
export const PEEK_LIMIT = 64 * 1024;

export interface StandbyCheck {
  /** Whether an answer with this status and headers may be a standby's (then its body is held to look into). */
  suspect(status: number, headers: HeaderMap): boolean;
  /** Given the held body as text, whether it is a standby's answer; absent when the status and headers suffice. */
  body?(text: string): boolean;
}

/** The error a standby answer stands for in failover bookkeeping (logged with its code, never sent). */
export class StandbyAnswer extends Error {
  readonly code = 'POSTERN_STANDBY';
  readonly status: number;
  constructor(status: number) {
    super(`the backend answered ${status} as a standby`);
    this.status = status;
  }
}

/**
 * WebHdfsHaDispatch (AbstractHdfsHaDispatch): a 403 whose body names `StandbyException` (a standby namenode),
 * or `SafeModeException` / `RetriableException` (a namenode in safe mode).
 */
export const webHdfsStandby: StandbyCheck = {
  suspect: (status) => status === 403,
  body: (text) =>
    text.includes('StandbyException') ||
    text.includes('SafeModeException') ||
    text.includes('RetriableException'),
};

/** RMHaDispatch, RMUIHaDispatch, RMUI2HaDispatch (RMHaBaseDispatcher): a 403 or 307 saying "This is standby RM". */
export const resourceManagerStandby: StandbyCheck = {
  suspect: (status) => status === 403 || status === 307,
  body: (text) => text.includes('This is standby RM'),
};

function location(headers: HeaderMap): string | undefined {
  const v = headers.location;
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The Atlas HA dispatches: a passive Atlas redirects (302 or 307) to the active one. AtlasHaDispatch and
 * AtlasTrustedProxyHaDispatch (`loginAware`) let a redirect to the login page through (its `Location` ends with
 * `login.jsp` or carries `originalUrl`); the API dispatches fail over on any redirect with a `Location`. Beyond
 * Knox, a 503 also fails over: it is what a passive Atlas answers while it knows of no active server.
 */
export function atlasStandby(loginAware: boolean): StandbyCheck {
  return {
    suspect(status, headers) {
      if (status === 503) return true;
      if (status !== 302 && status !== 307) return false;
      const to = location(headers);
      if (!loginAware) return to !== undefined;
      return !(to !== undefined && (to.endsWith('login.jsp') || to.includes('originalUrl')));
    },
  };
}
