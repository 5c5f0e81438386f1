/**
 * @module observability/logger
 * The gateway's pino logger. Writes JSON lines to `logs/gateway.log` under the home and to stdout, and never
 * prints credentials: the paths that could carry them are redacted at the source.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Directory for gateway.log; omit to log to stdout only. */
  logDir?: string;
  level?: string;
  /** Also write to stdout (default true). */
  stdout?: boolean;
  /**
   * The least level written to stdout when a log directory is used too (default `warn`, or
   * `POSTERN_LOG_STDOUT_LEVEL`): the file gets every line, the console what needs attention. Writing each access
   * line twice costs about a tenth of the small-request throughput.
   */
  stdoutLevel?: string;
}

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.POSTERN_LOG_LEVEL ?? 'info';
  const streams: pino.StreamEntry[] = [];
  if (options.stdout !== false) {
    // Without its own floor a stream takes whatever the logger's level lets through, so that changing the
    // level of a running gateway (SIGHUP, `postern.log.level`) reaches the file too.
    const stdoutLevel = options.logDir
      ? (options.stdoutLevel ?? process.env.POSTERN_LOG_STDOUT_LEVEL ?? 'warn')
      : 'trace';
    streams.push({ level: stdoutLevel as pino.Level, stream: pino.destination({ dest: 1, sync: false }) });
  }
  if (options.logDir) {
    mkdirSync(options.logDir, { recursive: true });
    streams.push({
      level: 'trace',
      stream: pino.destination({ dest: join(options.logDir, 'gateway.log'), sync: false, mkdir: true }),
    });
  }
  if (streams.length === 0) return pino({ level: 'silent' });
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.multistream(streams),
  );
}

/**
 * The access log: one line per request in `logs/access.log` (stdout without a log directory). A logger of its
 * own, without the redaction paths of the gateway log: an access line carries no header or body, and redaction
 * with wildcards runs over every field of every line. `POSTERN_ACCESS_LOG=silent` turns it off.
 */
export function createAccessLog(options: { logDir?: string; level?: string } = {}): Logger {
  const level = options.level ?? process.env.POSTERN_ACCESS_LOG ?? 'info';
  const dest = options.logDir ? join(options.logDir, 'access.log') : 1;
  if (options.logDir) mkdirSync(options.logDir, { recursive: true });
  return pino({ level, base: undefined }, pino.destination({ dest, sync: false, mkdir: true }));
}
