/**
 * @module dispatch/params
 * A dispatch's params read through the same reader as providers' (providers/common/param-reader), so that a
 * bad value is reported at the `<param>` that holds it rather than silently replaced. A dispatch's params are
 * the service's params, then its definition's dispatch params, then the topology's `<dispatch>` override (the
 * later wins, as deployment merges them); names are exact, as Knox reads them as filter init params.
 */
import { ParamReader } from '../providers/common/param-reader.ts';
import type { DispatchContext } from '../spi/index.ts';

export function dispatchParams(ctx: DispatchContext): ParamReader {
  return new ParamReader({
    params: ctx.params,
    sink: ctx.sink,
    label: `service ${ctx.service.role}`,
    ignoreCase: false,
    position(name) {
      for (const list of [ctx.service.dispatch?.params, ctx.dispatch?.params, ctx.service.params]) {
        const param = list?.find((p) => p.name === name);
        if (param) return param.pos;
      }
      return ctx.pos;
    },
  });
}
