/**
 * @module bench/wrk-json
 * The one line bench/wrk-report.lua makes wrk print after its own report, read back: every bench script that runs
 * wrk gives it that script (alone, or after an upload's request set-up) and parses its output here.
 */

/** What bench/wrk-report.lua prints; latencies in microseconds, as wrk records them. */
export interface WrkJson {
  requests: number;
  duration_us: number;
  /** Bytes read (responses, headers included). */
  bytes: number;
  connect: number;
  read: number;
  write: number;
  /** Responses with a status of 400 or more (wrk's "non-2xx or 3xx"). */
  status: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  mean: number;
  max: number;
}

/** The report in wrk's output; fails with that output when there is none (wrk failed, or another script ran). */
export function parseWrkJson(out: string): WrkJson {
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no report:\n${out}`);
  return JSON.parse(line.slice('WRK_JSON '.length)) as WrkJson;
}
