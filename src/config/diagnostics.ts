/**
 * @module config/diagnostics
 * Positions in configuration files and the one error type every config reader throws or collects.
 * A diagnostic prints as `path:line:column: message`, the shape editors and `postern check` understand.
 */

/** Where something sits in a file. `line` and `column` count from 1. */
export interface Position {
  file: string;
  line: number;
  column: number;
}

/** One problem found in configuration. */
export interface Diagnostic extends Position {
  message: string;
  /**
   * `error` problems stop a deployment — of the whole topology, or only of the service named by {@link service};
   * `warning` ones are only reported.
   */
  severity: 'error' | 'warning';
  /**
   * The topology service the problem belongs to (`ROLE`, or `ROLE (name NAME)`), when it is one service's alone: an
   * error of one service fails that service and the topology deploys the others (deploy/compile.ts).
   */
  service?: string;
  /** The catalog code (src/errors.ts) the failed service answers with, when the problem fails a service. */
  code?: string;
}

/** What a problem belongs to when it is one topology service's alone (see {@link Diagnostic.service}). */
export interface DiagnosticScope {
  service?: string;
  code?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** Thrown when configuration cannot be used. Carries every diagnostic found, first one in `message`. */
export class ConfigError extends Error {
  readonly code = 'POSTERN_ERR_CONFIG';
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[] | Diagnostic) {
    const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    super(list.map(formatDiagnostic).join('\n'));
    this.name = 'ConfigError';
    this.diagnostics = list;
  }
  static at(pos: Position, message: string): ConfigError {
    return new ConfigError({ ...pos, message, severity: 'error' });
  }
}

/** Collects diagnostics while a reader goes on, so one run reports every problem, not just the first. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  error(pos: Position, message: string, scope?: DiagnosticScope): void {
    this.items.push({
      file: pos.file,
      line: pos.line,
      column: pos.column,
      message,
      severity: 'error',
      ...scope,
    });
  }
  warn(pos: Position, message: string): void {
    this.items.push({ file: pos.file, line: pos.line, column: pos.column, message, severity: 'warning' });
  }
  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
  /** Throws a ConfigError holding the errors, if there are any. */
  throwIfErrors(): void {
    const errors = this.items.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new ConfigError(errors);
  }
}
