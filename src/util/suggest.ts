// "Did you mean": the closest known name to a mistyped one (commander does this for commands and flags; this
// is for values, such as data set names).

/** Levenshtein distance (insertions, deletions, substitutions; a swap of neighbours counts 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The known names closest to `value` (case-insensitive), within about a third of its length; best first. */
export function closest(value: string, known: readonly string[]): string[] {
  const v = value.toLowerCase();
  const limit = Math.max(1, Math.floor(Math.max(v.length, 3) / 3));
  const scored = known
    .map((name) => ({ name, d: editDistance(v, name.toLowerCase()) }))
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d);
  return scored.filter((s) => s.d === scored[0].d).map((s) => s.name);
}

/** "did you mean 'mnist'?" for the closest known name, or '' when none is close. */
export function didYouMean(value: string, known: readonly string[]): string {
  const c = closest(value, known);
  return c.length === 0 ? '' : `did you mean ${c.map((x) => `'${x}'`).join(' or ')}?`;
}
