// Small numeric helpers shared by every layer (browser-safe: no node: imports, no tfjs).

/** Product of the entries (1 for an empty list): the number of values of a per-example shape. */
export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** True for a positive integer. */
export const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
