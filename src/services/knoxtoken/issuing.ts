/**
 * @module services/knoxtoken/issuing
 * What the token-issuing services (KNOXSSO, KNOXTOKEN) share: their service params in Knox's names and spelling
 * (a bad value is a deployment error at the dispatch), the user a token is issued for, and the method check.
 */
import { ConfigError } from '../../config/diagnostics.ts';
import { parseBoolean, splitList } from '../../config/values.ts';
import { Errors } from '../../errors.ts';
import type { DispatchContext, Exchange } from '../../spi/index.ts';
import { SIGNING_ALGORITHM } from './keys.ts';

/** The package of Knox's resource classes, which definitions name as the dispatch's class. */
export const KNOX_SERVICE = 'org.apache.knox.gateway.service.';

export function ttlParam(ctx: DispatchContext, name: string, fallback: number): number {
  const text = ctx.params.get(name)?.trim();
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < -1) {
    throw ConfigError.at(ctx.pos, `${name} must be milliseconds (or -1 for no expiry), found "${text}"`);
  }
  return n;
}

export function boolParam(ctx: DispatchContext, name: string, fallback: boolean): boolean {
  const text = ctx.params.get(name);
  if (text === undefined || text.trim() === '') return fallback;
  const b = parseBoolean(text);
  if (b === undefined) throw ConfigError.at(ctx.pos, `${name} must be true or false, found "${text}"`);
  return b;
}

export function checkSigAlg(ctx: DispatchContext, name: string): void {
  const alg = ctx.params.get(name)?.trim();
  if (alg && alg !== SIGNING_ALGORITHM) {
    throw ConfigError.at(
      ctx.pos,
      `${name} "${alg}" is not supported: the gateway signs with ${SIGNING_ALGORITHM}`,
    );
  }
}

export function audiencesParam(ctx: DispatchContext, name: string): string[] {
  return splitList(ctx.params.get(name) ?? '', /,/);
}

/** The authenticated user to issue for: the effective user after identity assertion. */
export function subjectOf(ex: Exchange): string | undefined {
  return ex.effectiveUser ?? ex.user?.name;
}

export function methodAllowed(ex: Exchange, methods: readonly string[]): void {
  if (!methods.includes(ex.req.method ?? '')) {
    throw Errors.methodNotAllowed(`Use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
}
