// Argument checks shared by the statistics helpers: one clear error line naming the bad value.

/** Throws unless v is an integer ≥ min. */
export function checkCount(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
}
