/**
 * @module observability/json-line
 * The per-request lines (access, audit) assembled as one string by their writer and handed to the pino logger's
 * destination, instead of an object that pino then walks key by key. pino quotes every key and every value into a
 * string of its own and joins them one by one: about 2.5 KiB allocated per line, the better part of what the logs
 * cost a small request. The line is the one `logger.info(fields, msg)` writes, byte for byte: the level and time
 * (the logger's own `timestamp` function), the logger's bindings (a child's, serialised once by pino: an audit
 * route's topology, service and provider), the fields in the order given, undefined ones left out, then the
 * message. Strings are quoted as `JSON.stringify` quotes them (as they are when nothing in them needs an escape):
 * as pino does, except that a lone surrogate is escaped (`\ud800`), where pino writes it raw and the file's UTF-8
 * then loses it to U+FFFD.
 *
 * The integration goes through `pino.symbols`, which pino exposes for "performant integration where necessary".
 * A logger whose lines pino itself must shape (a destination that needs pino's per-line metadata, such as
 * `pino.multistream`; redaction, a mixin, hooks, a log formatter, serializers, a nested key, a message prefix)
 * gets the same fields through `logger.info`, parsed back into an object: the gateway log used as the access log
 * in tests, never the gateway's own access and audit logs.
 */
import pino, { type Logger } from 'pino';

const {
  chindingsSym,
  endSym,
  formattersSym,
  hooksSym,
  lsCacheSym,
  messageKeySym,
  mixinSym,
  msgPrefixSym,
  needsMetadataGsym,
  nestedKeySym,
  serializersSym,
  streamSym,
  stringifiersSym,
  timeSym,
} = pino.symbols as unknown as Record<string, symbol>;

/** pino's numeric `info` level. */
const INFO = 30;

/** Info lines on one logger: check {@link enabled} before assembling the fields, then {@link info}. */
export interface JsonLines {
  /** Whether an info line is written now (a running logger's level can change). */
  enabled(): boolean;
  /**
   * Writes the info line with `fields`, each `,"key":value` as {@link field} and {@link stringField} make them,
   * and the message `msg` (none when undefined).
   */
  info(fields: string, msg?: string): void;
}

/** The info lines of `logger` (a pino logger or a child of one). */
export function jsonLines(logger: Logger): JsonLines {
  // biome-ignore lint/suspicious/noExplicitAny: pino's symbol-keyed state is not in its types.
  const internals = logger as any;
  const enabled = () => logger.isLevelEnabled('info');
  if (!plainLines(internals)) {
    return {
      enabled,
      info(fields, msg) {
        logger.info(JSON.parse(`{${fields.slice(1)}}`) as object, msg);
      },
    };
  }
  const head = internals[lsCacheSym][INFO] as string;
  const end = internals[endSym] as string;
  const messageKey = internals[messageKeySym] as string;
  // A writer logs one message or none (`access`): its tail is made once.
  let lastMsg: string | undefined;
  let lastTail = end;
  return {
    enabled,
    info(fields, msg) {
      if (!enabled()) return;
      if (msg !== lastMsg) {
        lastMsg = msg;
        lastTail = msg === undefined ? end : `,"${messageKey}":${JSON.stringify(msg)}${end}`;
      }
      internals[streamSym].write(head + internals[timeSym]() + internals[chindingsSym] + fields + lastTail);
    },
  };
}

/** Whether pino would write the fields as they are: no per-line shaping by the logger or its destination. */
// biome-ignore lint/suspicious/noExplicitAny: pino's symbol-keyed state is not in its types.
function plainLines(internals: any): boolean {
  const stringifiers = internals[stringifiersSym] as object;
  const hooks = internals[hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const serializers = Object.keys(internals[serializersSym] as object);
  return (
    internals[streamSym]?.[needsMetadataGsym] !== true &&
    typeof internals[lsCacheSym]?.[INFO] === 'string' &&
    typeof internals[timeSym] === 'function' &&
    !internals[mixinSym] &&
    !internals[nestedKeySym] &&
    !internals[msgPrefixSym] &&
    !internals[formattersSym]?.log &&
    !hooks?.logMethod &&
    !hooks?.streamWrite &&
    Object.keys(stringifiers).length === 0 &&
    Object.getOwnPropertySymbols(stringifiers).length === 0 &&
    serializers.every((k) => k === 'err')
  );
}

/**
 * `,"key":"value"` from the field's head `,"key":` (a constant of the caller's, so that nothing is built for the
 * key), or nothing when the value is undefined (pino leaves undefined fields out).
 */
export function stringField(head: string, value: string | undefined): string {
  if (value === undefined) return '';
  // What JSON.stringify would escape: a quote, a backslash, a control character, a lone surrogate. Most values
  // (methods, paths, ids, addresses, user names) have none and are quoted as they are, at half its cost.
  return NEEDS_ESCAPE.test(value) ? head + JSON.stringify(value) : `${head}"${value}"`;
}

/** A character JSON.stringify writes as an escape (surrogates: only lone ones, which it alone tells apart). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `,"key":value` for a number or a boolean, as {@link stringField}; a number that is not finite is `null`. */
export function field(head: string, value: number | boolean | undefined): string {
  if (value === undefined) return '';
  return head + (typeof value === 'number' && !Number.isFinite(value) ? 'null' : value);
}
