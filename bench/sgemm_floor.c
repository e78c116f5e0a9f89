/*
 * sgemm floor for one training step of the canonical `mlp` VAE (docs/PROTOCOL.md), batch 128.
 *
 * Times only the matrix products of one step with OpenBLAS cblas_sgemm on 2 threads: no activations,
 * no loss, no optimizer, no allocation. A framework cannot train an epoch faster than
 * 469 x (this time) on this BLAS, so "vaekit s/epoch / floor s/epoch" says how much of vaekit's
 * time goes to everything that is not a GEMM.
 *
 * Layout: row-major, dense kernels stored [in, out] as in TensorFlow.js (y = x K). Per dense layer
 * with input X (B x in), kernel K (in x out), output gradient dY (B x out):
 *   forward          Y  = X  K      (NoTrans, NoTrans)  B x in  . in x out
 *   data gradient    dX = dY K^T    (NoTrans, Trans)    B x out . out x in   (not for the first layer:
 *                                                                            nothing needs d/dx of the input)
 *   weight gradient  dK = X^T dY    (Trans, NoTrans)    in x B  . B x out
 * Layers: 784->400 (enc1), 400->40 (enc2: mu and log sigma^2 together), 20->400 (dec1), 400->784 (dec2).
 * That is 4 + 3 + 4 = 11 products, 210 M multiply-adds per step.
 * The same step with PyTorch's [out, in] weight layout (forward NT, data gradient NN, weight gradient
 * dY^T X = TN) is timed as well, for reference.
 *
 * Build (bench/run.ts does this into bench/out/):
 *   cc -O2 -fopenmp -o bench/out/sgemm_floor bench/sgemm_floor.c -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *      -lopenblas -ldnnl
 * Run: bench/out/sgemm_floor [--threads 2] [--reps 300] [--steps-per-epoch 469] [--engine openblas|onednn] [--json]
 * (OPENBLAS_CORETYPE picks OpenBLAS's kernel; --engine onednn times oneDNN's dnnl_sgemm on OpenMP threads.)
 */
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define B 128
#define NLAYERS 4
#define MAXG 12

typedef struct {
  const char *name;
  int in, out;
  int data_grad; /* 1 if the data gradient is needed */
} Layer;

static const Layer layers[NLAYERS] = {
    {"enc1 784->400", 784, 400, 0},
    {"enc2 400->40", 400, 40, 1},
    {"dec1 20->400", 20, 400, 1},
    {"dec2 400->784", 400, 784, 1},
};

typedef struct {
  char label[64];
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k;
  const float *a, *b;
  float *c;
  int lda, ldb, ldc;
} Gemm;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *buf(size_t n) {
  float *p = NULL;
  if (posix_memalign((void **)&p, 64, n * sizeof(float)) != 0) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX - 0.5f;
  return p;
}

static int cmp(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static int use_onednn = 0; /* --engine onednn: dnnl_sgemm (OpenMP threads) instead of cblas_sgemm */

static void run(const Gemm *g) {
  if (use_onednn) {
    dnnl_sgemm(g->ta == CblasTrans ? 'T' : 'N', g->tb == CblasTrans ? 'T' : 'N', g->m, g->n, g->k, 1.0f, g->a, g->lda,
               g->b, g->ldb, 0.0f, g->c, g->ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->a, g->lda, g->b, g->ldb, 0.0f, g->c,
              g->ldc);
}

static double median(double *v, int n) {
  qsort(v, n, sizeof(double), cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Builds the step's GEMMs; torch_layout: weights [out, in] instead of [in, out]. */
static int build(Gemm *g, int torch_layout) {
  int n = 0;
  for (int l = 0; l < NLAYERS; l++) {
    int in = layers[l].in, out = layers[l].out;
    float *X = buf((size_t)B * in), *W = buf((size_t)in * out), *Y = buf((size_t)B * out);
    float *dY = buf((size_t)B * out), *dX = buf((size_t)B * in), *dW = buf((size_t)in * out);
    /* forward */
    Gemm f = {.m = B, .n = out, .k = in, .a = X, .lda = in, .b = W, .c = Y, .ldc = out};
    f.ta = CblasNoTrans;
    if (!torch_layout) { f.tb = CblasNoTrans; f.ldb = out; }  /* X[B,in] . K[in,out] */
    else { f.tb = CblasTrans; f.ldb = in; }                    /* X[B,in] . W[out,in]^T */
    snprintf(f.label, sizeof f.label, "%s forward", layers[l].name);
    g[n++] = f;
    /* data gradient */
    if (layers[l].data_grad) {
      Gemm d = {.m = B, .n = in, .k = out, .a = dY, .lda = out, .b = W, .c = dX, .ldc = in};
      d.ta = CblasNoTrans;
      if (!torch_layout) { d.tb = CblasTrans; d.ldb = out; }  /* dY[B,out] . K[in,out]^T */
      else { d.tb = CblasNoTrans; d.ldb = in; }                /* dY[B,out] . W[out,in] */
      snprintf(d.label, sizeof d.label, "%s data-grad", layers[l].name);
      g[n++] = d;
    }
    /* weight gradient */
    Gemm w;
    if (!torch_layout) { /* dK[in,out] = X^T[in,B] . dY[B,out] */
      w = (Gemm){.ta = CblasTrans, .tb = CblasNoTrans, .m = in, .n = out, .k = B,
                 .a = X, .lda = in, .b = dY, .ldb = out, .c = dW, .ldc = out};
    } else { /* dW[out,in] = dY^T[out,B] . X[B,in] */
      w = (Gemm){.ta = CblasTrans, .tb = CblasNoTrans, .m = out, .n = in, .k = B,
                 .a = dY, .lda = out, .b = X, .ldb = in, .c = dW, .ldc = in};
    }
    snprintf(w.label, sizeof w.label, "%s weight-grad", layers[l].name);
    g[n++] = w;
  }
  return n;
}

static const char *tname(CBLAS_TRANSPOSE t) { return t == CblasTrans ? "T" : "N"; }

/* Median seconds of one whole step (all GEMMs back to back) over reps, after warmup; per-GEMM medians in each[]. */
static double time_step(const Gemm *g, int ng, int reps, double *each) {
  double *v = malloc(sizeof(double) * reps);
  for (int w = 0; w < 20; w++)
    for (int i = 0; i < ng; i++) run(&g[i]);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    for (int i = 0; i < ng; i++) run(&g[i]);
    v[r] = now() - t0;
  }
  double step = median(v, reps);
  for (int i = 0; i < ng; i++) {
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      run(&g[i]);
      v[r] = now() - t0;
    }
    each[i] = median(v, reps);
  }
  free(v);
  return step;
}

int main(int argc, char **argv) {
  int threads = 2, reps = 300, spe = 469, json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--steps-per-epoch") && i + 1 < argc) spe = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--engine") && i + 1 < argc) use_onednn = !strcmp(argv[++i], "onednn");
    else {
      fprintf(stderr, "usage: %s [--threads N] [--reps N] [--steps-per-epoch N] [--engine openblas|onednn] [--json]\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  openblas_set_num_threads(threads);
  omp_set_num_threads(threads);
  srand(1);
  char engine[128];
  if (use_onednn) snprintf(engine, sizeof engine, "oneDNN %d.%d.%d dnnl_sgemm", dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
  else snprintf(engine, sizeof engine, "%s", openblas_get_config());

  Gemm tf[MAXG], pt[MAXG];
  int ntf = build(tf, 0), npt = build(pt, 1);
  double each_tf[MAXG], each_pt[MAXG];
  double step_tf = time_step(tf, ntf, reps, each_tf);
  double step_pt = time_step(pt, npt, reps, each_pt);
  double macs = 0;
  for (int i = 0; i < ntf; i++) macs += (double)tf[i].m * tf[i].n * tf[i].k;

  if (json) {
    printf("{\"threads\": %d, \"reps\": %d, \"batch\": %d, \"steps_per_epoch\": %d, \"gemms\": %d, "
           "\"macs_per_step\": %.0f, \"ms_per_step\": %.6f, \"seconds_per_epoch\": %.6f, \"gflops\": %.3f, "
           "\"torch_layout_ms_per_step\": %.6f, \"torch_layout_seconds_per_epoch\": %.6f, \"config\": \"%s\", "
           "\"engine\": \"%s\", \"core\": \"%s\", "
           "\"products\": [",
           threads, reps, B, spe, ntf, macs, step_tf * 1e3, step_tf * spe, 2 * macs / step_tf * 1e-9,
           step_pt * 1e3, step_pt * spe, engine, use_onednn ? "onednn" : "openblas", openblas_get_corename());
    for (int i = 0; i < ntf; i++)
      printf("%s{\"gemm\": \"%s\", \"op\": \"%s%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"ms\": %.6f}", i ? ", " : "",
             tf[i].label, tname(tf[i].ta), tname(tf[i].tb), tf[i].m, tf[i].n, tf[i].k, each_tf[i] * 1e3);
    printf("]}\n");
  } else {
    printf("%s, %d threads, median of %d reps\n", engine, threads, reps);
    printf("%-32s %-3s %5s %5s %5s %9s\n", "product (TF.js [in,out] kernels)", "op", "m", "n", "k", "ms");
    for (int i = 0; i < ntf; i++)
      printf("%-32s %s%s  %5d %5d %5d %9.4f\n", tf[i].label, tname(tf[i].ta), tname(tf[i].tb), tf[i].m, tf[i].n,
             tf[i].k, each_tf[i] * 1e3);
    printf("step (%d products, %.1f M MACs): %.4f ms = %.1f GFLOP/s; x %d steps = %.3f s/epoch\n", ntf, macs / 1e6,
           step_tf * 1e3, 2 * macs / step_tf * 1e-9, spe, step_tf * spe);
    printf("same step with PyTorch's [out,in] weights: %.4f ms; x %d = %.3f s/epoch\n", step_pt * 1e3, spe,
           step_pt * spe);
  }
  return 0;
}
