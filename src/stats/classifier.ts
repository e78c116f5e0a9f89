// What the classifiers of src/stats share: classes as sorted distinct labels, a predict() over row-major
// feature matrices, accuracy.

/** Sorted distinct labels of y, and each row's index into them. */
export function classIndex(y: ArrayLike<number>): { classes: number[]; idx: Int32Array } {
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
  const map = new Map(classes.map((c, i) => [c, i]));
  return { classes, idx: Int32Array.from(y, (v) => map.get(v)!) };
}

export interface Classifier {
  classes: number[];
  /** Labels for rows of X [n × d]. */
  predict(x: ArrayLike<number>, n?: number): Int32Array;
}

/** Fraction of rows with pred[i] === y[i] (0 for no rows). */
export function accuracy(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return y.length ? ok / y.length : 0;
}
