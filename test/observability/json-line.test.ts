/**
 * Access and audit lines are assembled as strings and handed to the logger's destination: each line must be, byte
 * for byte, the one pino writes for the same fields through `logger.info(object, msg)`, on a plain destination
 * (the direct path) as on one pino must shape (multistream, redaction: through pino).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino, { type Logger } from 'pino';
import { field, jsonLines, stringField } from '../../src/observability/json-line.ts';
import { createAccessLog } from '../../src/observability/logger.ts';

/** A pino logger writing to memory, with a fixed time so that two lines can be compared whole. */
function memoryLogger(options: pino.LoggerOptions = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino(
    { base: undefined, timestamp: () => ',"time":1700000000000', ...options },
    {
      write: (s: string) => lines.push(s),
    },
  );
  return { log, lines };
}

const awkward = [
  '/gateway/t/x',
  'quote " and backslash \\ ',
  'tab\tnewline\ncontrol\u0001',
  'ünïcödé ✓ 𝄞',
  'a surrogate pair \ud834\udd1e',
  'DEL \u007f and the separators \u2028\u2029',
  'unit separator \u001f',
  'x'.repeat(150),
  '',
];

/** The same event as an object (what pino is given) and as fields (what json-line is given). */
function event(i: number): { object: Record<string, unknown>; fields: string } {
  const s = awkward[i % awkward.length]!;
  const object = {
    type: 'access',
    reqId: `id-${i}`,
    traceId: i % 2 === 0 ? undefined : 'abc',
    path: s,
    user: i % 3 === 0 ? undefined : s,
    status: 200 + i,
    aborted: i % 2 === 0,
    ms: i / 7,
    bad: i === 4 ? Number.NaN : undefined,
  };
  const fields =
    ',"type":"access"' +
    stringField(',"reqId":', object.reqId) +
    stringField(',"traceId":', object.traceId) +
    stringField(',"path":', object.path) +
    stringField(',"user":', object.user) +
    field(',"status":', object.status) +
    field(',"aborted":', object.aborted) +
    field(',"ms":', object.ms) +
    field(',"bad":', object.bad);
  return { object, fields };
}

describe('json lines', () => {
  it('writes what pino writes for the same fields, on a child with bindings, with and without a message', () => {
    const direct = memoryLogger();
    const viaPino = memoryLogger();
    const bindings = { type: 'audit', action: 'dispatch', topology: 't"1', service: 'HTTP' };
    const directChild = direct.log.child(bindings);
    // The direct path: the line does not go through pino's own `info`.
    directChild.info = () => assert.fail('went through pino');
    const lines = jsonLines(directChild);
    const child = viaPino.log.child(bindings);
    for (let i = 0; i < awkward.length * 2; i++) {
      const { object, fields } = event(i);
      lines.info(fields, i % 2 === 0 ? 'access' : undefined);
      child.info(object, i % 2 === 0 ? 'access' : undefined);
    }
    assert.equal(direct.lines.length, awkward.length * 2);
    assert.deepEqual(direct.lines, viaPino.lines);
  });

  // The one difference from pino, on purpose: pino writes a lone surrogate as it is, which the file's UTF-8 then
  // turns into U+FFFD; JSON.stringify's escape keeps it.
  it('escapes a lone surrogate as JSON.stringify does (pino leaves it raw), and quotes the rest as pino', () => {
    assert.equal(stringField(',"p":', 'x\ud800y'), ',"p":"x\\ud800y"');
    assert.equal(stringField(',"p":', '\udfff'), ',"p":"\\udfff"');
    assert.equal(stringField(',"p":', 'GET'), ',"p":"GET"');
    assert.equal(stringField(',"p":', 'a "b" \\ \n'), ',"p":"a \\"b\\" \\\\ \\n"');
  });

  it('takes the direct path for the gateway’s access log (a batched file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-json-line-'));
    try {
      const log = createAccessLog({ logDir: dir, level: 'info' });
      log.info = () => assert.fail('went through pino');
      const access = jsonLines(log);
      access.info(event(0).fields, 'access');
      await new Promise<void>((ok) => log.flush(() => ok()));
      const [line] = readFileSync(join(dir, 'access.log'), 'utf8').split('\n');
      assert.equal(JSON.parse(line!).reqId, 'id-0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing while the level is above info, and follows a change of level', () => {
    const { log, lines } = memoryLogger({ level: 'warn' });
    const access = jsonLines(log);
    assert.equal(access.enabled(), false);
    access.info(event(1).fields, 'access');
    assert.equal(lines.length, 0);
    log.level = 'info';
    assert.equal(access.enabled(), true);
    access.info(event(1).fields, 'access');
    assert.equal(lines.length, 1);
  });

  it('goes through pino for a destination that needs pino’s metadata (multistream): same line, same routing', () => {
    const info: string[] = [];
    const warn: string[] = [];
    const log = pino(
      { base: undefined, timestamp: () => ',"time":1700000000000' },
      pino.multistream([
        { level: 'info', stream: { write: (s: string) => info.push(s) } },
        { level: 'warn', stream: { write: (s: string) => warn.push(s) } },
      ]),
    );
    const viaPino = memoryLogger();
    const { object, fields } = event(3);
    jsonLines(log).info(fields, 'access');
    viaPino.log.info(object, 'access');
    assert.deepEqual(info, viaPino.lines);
    assert.deepEqual(warn, []);
  });

  it('goes through pino for a logger that redacts', () => {
    const { log, lines } = memoryLogger({ redact: { paths: ['user'], censor: '[redacted]' } });
    jsonLines(log).info(event(1).fields, 'access');
    assert.equal(JSON.parse(lines[0]!).user, '[redacted]');
  });
});
