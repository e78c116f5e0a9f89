// Depth-limited regression trees as scikit-learn grows them inside GradientBoostingClassifier: best-first
// splitter, friedman_mse criterion (proxy improvement (n_r Σ_l − n_l Σ_r)² / (n_l n_r), the same ordering
// as the SSE decrease), min_samples_leaf 1, max_features None, thresholds at midpoints of distinct float32
// values (closer than 1e-7 counts as equal). Ties between equally good splits go to the lowest feature index
// (sklearn breaks them by a random feature order). The impurity decrease of each split, summed per feature,
// is what feature_importances_ is built from.

/** A grown tree: node v splits on feature[v] (−1: leaf) at threshold[v] (x ≤ threshold goes left). */
export interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  nodes: number;
}

const FEATURE_THRESHOLD = 1e-7;
const IMPURITY_EPS = 2.220446049250313e-16;

/**
 * Grows depth-limited regression trees on one fixed feature matrix (sklearn's best-first splitter with
 * friedman_mse, min_samples_leaf 1, max_features None). Every node owns one contiguous segment of each
 * feature's presorted order, so a split search is a sequential scan and a split a stable partition.
 */
export class TreeGrower {
  private readonly ord: Uint32Array[];
  private readonly val: Float32Array[];
  private readonly tmpI: Uint32Array;
  private readonly tmpV: Float32Array;
  private readonly goLeft: Uint8Array;
  readonly nodeOf: Int32Array;
  readonly importance: Float64Array;
  private readonly maxNodes: number;

  constructor(
    private readonly n: number,
    private readonly d: number,
    private readonly sortedIdx: readonly Uint32Array[],
    private readonly sortedVal: readonly Float32Array[],
    private readonly maxDepth: number,
  ) {
    this.ord = sortedIdx.map((a) => new Uint32Array(a.length));
    this.val = sortedVal.map((a) => new Float32Array(a.length));
    this.tmpI = new Uint32Array(n);
    this.tmpV = new Float32Array(n);
    this.goLeft = new Uint8Array(n);
    this.nodeOf = new Int32Array(n);
    this.importance = new Float64Array(d);
    this.maxNodes = 2 ** (maxDepth + 1) - 1;
  }

  /** Fits a tree to `resid`; leaves each sample's leaf in nodeOf and the per-feature impurity decrease (unnormalised SSE) in importance. */
  grow(resid: Float64Array): Tree {
    const { n, d, ord, val, maxNodes, nodeOf, goLeft } = this;
    for (let f = 0; f < d; f++) {
      ord[f].set(this.sortedIdx[f]);
      val[f].set(this.sortedVal[f]);
    }
    this.importance.fill(0);
    const tree: Tree = {
      feature: new Int32Array(maxNodes).fill(-1),
      threshold: new Float64Array(maxNodes),
      left: new Int32Array(maxNodes).fill(-1),
      right: new Int32Array(maxNodes).fill(-1),
      value: new Float64Array(maxNodes),
      nodes: 1,
    };
    const start = new Int32Array(maxNodes);
    const end = new Int32Array(maxNodes);
    const sum = new Float64Array(maxNodes);
    const sumsq = new Float64Array(maxNodes);
    const depthOf = new Int32Array(maxNodes);
    start[0] = 0;
    end[0] = n;
    for (let i = 0; i < n; i++) {
      sum[0] += resid[i];
      sumsq[0] += resid[i] * resid[i];
    }
    const o0 = ord[0];
    // Breadth-first: node ids in creation order are the queue.
    for (let v = 0; v < tree.nodes; v++) {
      const a = start[v];
      const b = end[v];
      const N = b - a;
      const S = sum[v];
      let splittable = depthOf[v] < this.maxDepth && N >= 2 && sumsq[v] / N - (S / N) * (S / N) > IMPURITY_EPS;
      let bestF = -1;
      let bestPos = 0;
      let bestThr = 0;
      let bNum = -1;
      let bDen = 1;
      if (splittable) {
        for (let f = 0; f < d; f++) {
          const o = ord[f];
          const vs = val[f];
          let cl = 0;
          let sl = 0;
          let last = 0;
          for (let q = a; q < b; q++) {
            const x = vs[q];
            if (cl > 0 && x > last + FEATURE_THRESHOLD) {
              const nr = N - cl;
              const diff = nr * sl - cl * (S - sl);
              const num = diff * diff;
              const den = cl * nr;
              // proxy improvement diff² / (nl·nr), compared without dividing
              if (num * bDen > bNum * den) {
                bNum = num;
                bDen = den;
                bestF = f;
                bestPos = cl;
                let thr = last / 2 + x / 2;
                if (thr === x || !Number.isFinite(thr)) thr = last;
                bestThr = thr;
              }
            }
            cl++;
            sl += resid[o[q]];
            last = x;
          }
        }
        if (bestF < 0) splittable = false;
      }
      if (!splittable) {
        // Leaves at maxDepth were assigned by their parent (whose partition was skipped).
        if (depthOf[v] < this.maxDepth) for (let q = a; q < b; q++) nodeOf[o0[q]] = v;
        continue;
      }
      const l = tree.nodes++;
      const r = tree.nodes++;
      tree.feature[v] = bestF;
      tree.threshold[v] = bestThr;
      tree.left[v] = l;
      tree.right[v] = r;
      depthOf[l] = depthOf[r] = depthOf[v] + 1;
      const m = a + bestPos;
      start[l] = a;
      end[l] = m;
      start[r] = m;
      end[r] = b;
      const ob = ord[bestF];
      for (let q = a; q < b; q++) {
        const i = ob[q];
        const left = q < m;
        goLeft[i] = left ? 1 : 0;
        const c = left ? l : r;
        sum[c] += resid[i];
        sumsq[c] += resid[i] * resid[i];
      }
      const sse = (u: number) => sumsq[u] - (sum[u] * sum[u]) / (end[u] - start[u]);
      this.importance[bestF] += sse(v) - sse(l) - sse(r);
      if (depthOf[l] >= this.maxDepth) {
        // Both children are leaves: assign them here and skip the partition.
        for (let q = a; q < b; q++) nodeOf[ob[q]] = q < m ? l : r;
        continue;
      }
      for (let f = 0; f < d; f++) this.partition(ord[f], val[f], a, b);
    }
    return tree;
  }

  private partition(o: Uint32Array, vs: Float32Array, a: number, b: number): void {
    const { goLeft, tmpI, tmpV } = this;
    let l = a;
    let r = 0;
    for (let q = a; q < b; q++) {
      const i = o[q];
      if (goLeft[i]) {
        o[l] = i;
        vs[l] = vs[q];
        l++;
      } else {
        tmpI[r] = i;
        tmpV[r] = vs[q];
        r++;
      }
    }
    o.set(tmpI.subarray(0, r), l);
    vs.set(tmpV.subarray(0, r), l);
  }
}
