/**
 * @module config/suggest
 * "Did you mean": the known names closest to a misspelt one (`provder` → `provider`), for every reader that refuses
 * an unknown element, attribute or key. A name is suggested when its edit distance (Damerau-Levenshtein; the case
 * of letters does not count) is at most a third of the longer name, and at least 1 — close enough to be the same word
 * mistyped, far enough that `url` is not offered for `xyz`.
 */

/**
 * Edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of two neighbours (`ulr` →
 * `url`) count one each (the optimal-string-alignment variant of Damerau-Levenshtein).
 */
export function editDistance(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2] + 1);
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length];
}

/** The known names close enough to `name` to be what was meant, all at the smallest distance found. */
export function nearest(name: string, known: Iterable<string>): string[] {
  const lower = name.toLowerCase();
  const scored: [string, number][] = [];
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    const limit = Math.max(1, Math.floor(Math.max(lower.length, k.length) / 3));
    if (d <= limit && k !== name) scored.push([k, d]);
  }
  const best = Math.min(...scored.map(([, d]) => d));
  return scored
    .filter(([, d]) => d === best)
    .map(([k]) => k)
    .sort();
}

/**
 * `; did you mean <provider>?` (with `show` wrapping each name), or `` when nothing is close; otherwise the
 * names accepted there, so that the message always says what is allowed.
 */
export function didYouMean(
  name: string,
  known: readonly string[],
  show: (k: string) => string = (k) => `"${k}"`,
): string {
  const near = nearest(name, known).slice(0, 3);
  if (near.length > 0) return `; did you mean ${near.map(show).join(' or ')}?`;
  if (known.length === 0) return '; nothing is allowed here';
  return `; expected one of ${known.map(show).join(', ')}`;
}
