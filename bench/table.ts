/**
 * @module bench/table
 * The tables the benchmark prints: Markdown (the HTTP, body, WebSocket, auth, rewrite and fan-out rows, pasted into
 * docs/performance.md and closing notes) and plain text (the HTTP/2 and handshake rows, as h2load prints).
 */

/** A Markdown table: the first `left` columns aligned left (names), the others right (numbers). */
export function markdownTable(
  head: readonly string[],
  body: readonly (readonly string[])[],
  left = 1,
): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < left ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/** A plain-text table: columns padded to their widest cell, a dashed rule under the head. */
export function textTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
