/**
 * @module rewrite/inbound
 * The request's inbound URL already parsed, handed from the gateway to the rewrite engine on the request's
 * {@link RewriteContext} under a symbol the plugin contract does not know: the gateway parses the path below the
 * topology to find the route and joins the rest to it (urltemplate/join), so the rewrite that turns the inbound URL
 * into the backend URL does not parse it again. The engine uses it only when its text is the URL it rewrites.
 */
import type { Template } from '../urltemplate/index.ts';
import type { RewriteContext } from './types.ts';

export const kInboundTemplate: unique symbol = Symbol('postern.rewrite.inboundTemplate');

/** A RewriteContext that may carry its inbound URL's literal template. */
export type ParsedInbound = RewriteContext & { [kInboundTemplate]?: Template };

/** The literal template of `url` when the context carries it for that URL. */
export function inboundTemplate(ctx: RewriteContext | undefined, url: string): Template | undefined {
  const t = (ctx as ParsedInbound | undefined)?.[kInboundTemplate];
  return t !== undefined && t.original === url ? t : undefined;
}
