/**
 * @module observability/logger
 * The gateway's pino logger. Writes JSON lines to `logs/gateway.log` under the home and to stdout, and never
 * prints credentials: the paths that could carry them are redacted at the source. On a terminal, stdout gets
 * human lines (pino-pretty: time, level, message, then the fields) instead of JSON; files and pipes keep JSON,
 * which is what log collectors read. `POSTERN_LOG_FORMAT=json|pretty` overrides the choice.
 */

import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { workerNumber } from '../cluster/ipc.ts';
import { lazyRequire } from '../lazy-require.ts';
import { BatchedFile } from './batched-file.ts';

const pinoPretty = lazyRequire<typeof import('pino-pretty')>('pino-pretty');

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
  /** How stdout lines look: `pretty` (human) or `json`; default: `POSTERN_LOG_FORMAT`, else pretty on a terminal. */
  stdoutFormat?: 'json' | 'pretty';
}

/**
 * The logger for what every worker of a multi-process gateway finds the same: configuration diagnostics and
 * deployment outcomes (each worker deploys from the same files). Worker 1 and a single process log them as
 * they are; the other workers at `debug`, so that a broken topology is said once on the console and in
 * gateway.log, not once per worker. What differs per worker (requests, backends) uses the gateway's own logger.
 */
export function configurationLogger(log: Logger): Logger {
  const n = workerNumber();
  if (n === undefined || n === 1) return log;
  const child = log.child({ worker: n });
  const debug = child.debug.bind(child);
  return Object.assign(Object.create(child) as Logger, {
    fatal: debug,
    error: debug,
    warn: debug,
    info: debug,
  });
}

/** The format stdout gets: human lines on a terminal, JSON elsewhere, unless POSTERN_LOG_FORMAT says. */
export function consoleFormat(given?: 'json' | 'pretty'): 'json' | 'pretty' {
  const env = process.env.POSTERN_LOG_FORMAT;
  if (given) return given;
  if (env === 'json' || env === 'pretty') return env;
  return process.stdout.isTTY ? 'pretty' : 'json';
}

/** stdout as a destination, in {@link consoleFormat}. */
function consoleStream(format: 'json' | 'pretty'): pino.DestinationStream {
  if (format === 'json') return pino.destination({ dest: 1, sync: false });
  return pinoPretty()({
    destination: 1,
    sync: false,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    // A diagnostic's field repeats its message.
    ignore: 'pid,hostname,diagnostic',
    singleLine: true,
  });
}

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
];

/**
 * Log files are readable by their owner and group only (0640; the directory 0750): they name users, addresses and
 * request paths. A file an older version created world-readable is narrowed when it is opened again.
 */
export const LOG_FILE_MODE = 0o640;

/**
 * How the per-request logs (access, audit) reach their files ({@link BatchedFile}): lines are encoded into a
 * reused 64 KiB buffer and go out in one write when it is full or 100 ms have passed. One `write(2)` per line
 * (through libuv's thread pool) cost more system time than the rest of the line; with 8 KiB batches a busy
 * gateway still paid a thread-pool round per ~6 requests and kept each batch as a string until then. A line is in
 * its file within 100 ms, and what waits is written synchronously when the process exits.
 */
export const BATCHED_LOG = { batchBytes: 65_536, periodicFlush: 100 } as const;

/**
 * A pino destination appending to `file` in `dir`, created with {@link LOG_FILE_MODE}; `batch` for the
 * per-request logs ({@link BATCHED_LOG}).
 */
export function logFile(
  dir: string,
  file: string,
  batch?: { batchBytes: number; periodicFlush: number },
): pino.DestinationStream {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const path = join(dir, file);
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o007) !== 0) chmodSync(path, mode & LOG_FILE_MODE);
  } catch {
    // Not there yet: it is created with the mode below.
  }
  if (batch) return new BatchedFile(path, { mode: LOG_FILE_MODE, ...batch });
  return pino.destination({ dest: path, sync: false, mode: LOG_FILE_MODE });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.POSTERN_LOG_LEVEL ?? 'info';
  const streams: pino.StreamEntry[] = [];
  if (options.stdout !== false) {
    // Without its own floor a stream takes whatever the logger's level lets through, so that changing the
    // level of a running gateway (SIGHUP, `postern.log.level`) reaches the file too.
    const stdoutLevel = options.logDir
      ? (options.stdoutLevel ?? process.env.POSTERN_LOG_STDOUT_LEVEL ?? 'warn')
      : 'trace';
    streams.push({
      level: stdoutLevel as pino.Level,
      stream: consoleStream(consoleFormat(options.stdoutFormat)),
    });
  }
  if (options.logDir) streams.push({ level: 'trace', stream: logFile(options.logDir, 'gateway.log') });
  if (streams.length === 0) return pino({ level: 'silent' });
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.multistream(streams),
  );
}

/**
 * The access log: one line per request in `logs/access.log` (stdout without a log directory). A logger of its
 * own, without the redaction paths of the gateway log: an access line carries no header or body, and redaction
 * with wildcards runs over every field of every line. `POSTERN_ACCESS_LOG=silent` turns it off. In a worker of
 * a multi-process gateway every line carries `worker` (its number).
 */
export function createAccessLog(options: { logDir?: string; level?: string } = {}): Logger {
  const level = options.level ?? process.env.POSTERN_ACCESS_LOG ?? 'info';
  const stream = options.logDir
    ? logFile(options.logDir, 'access.log', BATCHED_LOG)
    : pino.destination({ dest: 1, sync: false });
  // With several workers (cluster/supervisor.ts), each line says which one served.
  const worker = workerNumber();
  return pino({ level, base: worker === undefined ? undefined : { worker } }, stream);
}
