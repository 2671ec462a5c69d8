// Test driver for native/src/elementwise.c and as_math.c, without the addon: runs the five
// elementwise kernels of a gp_kernel_table (either ISA) on inputs from a file, or as_math's
// functions, and writes the outputs for compare.mjs to check against the wasm kernels.
//
//   harness batch <avx512|avx2> <in> <out>     records (see compare.mjs: writeBatch)
//   harness range <avx512|avx2> <act> <lo> <hi> activationForward of every float32 whose
//                                               bits are in [lo, hi), to stdout, in chunks
//   harness fn <exp|log|tanh|expm1> <in> <out>  f64 → f64 through gp_as_<fn> (libm-<fn>: glibc's)
//   harness bench <avx512|avx2> <kernel> <n> <reps>  seconds per call (see bench.mjs)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include "../src/as_math.h"
#include "../src/kernels.h"

static gp_kernel_table T;

static void *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc(*len ? *len : 1);
  if (fread(p, 1, *len, f) != *len) exit(2);
  fclose(f);
  return p;
}

typedef struct {
  const uint8_t *p, *end;
} reader;

static void take(reader *r, void *dst, size_t n) {
  if ((size_t)(r->end - r->p) < n) {
    fprintf(stderr, "truncated input\n");
    exit(2);
  }
  memcpy(dst, r->p, n);
  r->p += n;
}

static int32_t take_i32(reader *r) {
  int32_t v;
  take(r, &v, 4);
  return v;
}

static double take_f64(reader *r) {
  double v;
  take(r, &v, 8);
  return v;
}

/** n floats at 4 bytes past a 64-byte boundary, so no vector access is aligned */
static float *take_floats(reader *r, size_t n) {
  uint8_t *base = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64);
  float *f = (float *)(base + 4);
  take(r, f, n * 4);
  return f;
}

static void free_floats(float *f) { free((uint8_t *)f - 4); }

static gp_isa parse_isa(const char *s) {
  if (!strcmp(s, "avx512")) return GP_ISA_AVX512;
  if (!strcmp(s, "avx2")) return GP_ISA_AVX2;
  fprintf(stderr, "isa: avx512 or avx2\n");
  exit(2);
}

static int batch(const char *in, const char *out) {
  size_t len;
  uint8_t *buf = read_file(in, &len);
  reader r = {buf, buf + len};
  FILE *o = fopen(out, "wb");
  while (r.p < r.end) {
    const int32_t kind = take_i32(&r);
    if (kind == 1) {
      const int32_t act = take_i32(&r), n = take_i32(&r);
      float *x = take_floats(&r, n);
      T.activation_forward(act, x, n);
      fwrite(x, 4, n, o);
      free_floats(x);
    } else if (kind == 2) {
      const int32_t act = take_i32(&r), n = take_i32(&r);
      float *d = take_floats(&r, n), *a = take_floats(&r, n);
      T.activation_backward(act, d, a, n);
      fwrite(d, 4, n, o);
      free_floats(d);
      free_floats(a);
    } else if (kind == 3) {
      const int32_t B = take_i32(&r), C = take_i32(&r);
      float *logits = take_floats(&r, (size_t)B * C), *labels = take_floats(&r, B);
      const double loss = T.softmax_cross_entropy(logits, labels, B, C);
      fwrite(logits, 4, (size_t)B * C, o);
      fwrite(&loss, 8, 1, o);
      free_floats(logits);
      free_floats(labels);
    } else if (kind == 4) {
      const int32_t n = take_i32(&r), alias = take_i32(&r);
      double h[5];
      for (int i = 0; i < 5; i++) h[i] = take_f64(&r);
      float *params = take_floats(&r, n), *vel = take_floats(&r, n), *grad = take_floats(&r, n);
      float *po = alias ? params : malloc(n * 4 + 4), *vo = alias ? vel : malloc(n * 4 + 4);
      T.sgd_update(params, vel, po, vo, grad, n, h[0], h[1], h[2], h[3], h[4]);
      fwrite(po, 4, n, o);
      fwrite(vo, 4, n, o);
      if (!alias) free(po), free(vo);
      free_floats(params), free_floats(vel), free_floats(grad);
    } else if (kind == 5) {
      const int32_t n = take_i32(&r), alias = take_i32(&r);
      double h[8];
      for (int i = 0; i < 8; i++) h[i] = take_f64(&r);
      float *params = take_floats(&r, n), *m = take_floats(&r, n), *v = take_floats(&r, n),
            *grad = take_floats(&r, n);
      float *po = alias ? params : malloc(n * 4 + 4), *mo = alias ? m : malloc(n * 4 + 4),
            *vo = alias ? v : malloc(n * 4 + 4);
      T.adam_update(params, m, v, po, mo, vo, grad, n, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
      fwrite(po, 4, n, o);
      fwrite(mo, 4, n, o);
      fwrite(vo, 4, n, o);
      if (!alias) free(po), free(mo), free(vo);
      free_floats(params), free_floats(m), free_floats(v), free_floats(grad);
    } else {
      fprintf(stderr, "bad record kind %d\n", kind);
      return 2;
    }
  }
  fclose(o);
  free(buf);
  return 0;
}

static int range(int32_t act, uint64_t lo, uint64_t hi) {
  enum { CHUNK = 1 << 20 };
  float *x = aligned_alloc(64, CHUNK * 4);
  for (uint64_t b = lo; b < hi;) {
    const uint32_t n = (uint32_t)(hi - b < CHUNK ? hi - b : CHUNK);
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t u = (uint32_t)(b + i);
      memcpy(x + i, &u, 4);
    }
    T.activation_forward(act, x, (int32_t)n);
    if (fwrite(x, 4, n, stdout) != n) return 3;
    b += n;
  }
  fflush(stdout);
  return 0;
}

static int fn(const char *name, const char *in, const char *out) {
  size_t len;
  double *x = read_file(in, &len);
  const size_t n = len / 8;
  // libm-*: glibc's, to show that the test tells them apart
  double (*f)(double) = !strcmp(name, "exp")        ? gp_as_exp
                        : !strcmp(name, "log")      ? gp_as_log
                        : !strcmp(name, "tanh")     ? gp_as_tanh
                        : !strcmp(name, "expm1")    ? gp_as_expm1
                        : !strcmp(name, "libm-exp") ? exp
                        : !strcmp(name, "libm-log") ? log
                        : !strcmp(name, "libm-tanh") ? tanh
                                                     : expm1;
  for (size_t i = 0; i < n; i++) x[i] = f(x[i]);
  FILE *o = fopen(out, "wb");
  fwrite(x, 8, n, o);
  fclose(o);
  return 0;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/** kernels: relu tanh sigmoid relu_bwd tanh_bwd softmax10 sgd sgd_nag adam adamw */
static int bench(const char *k, int32_t n, int reps) {
  float *a[7];
  for (int i = 0; i < 7; i++) {
    a[i] = aligned_alloc(64, (size_t)n * 4 + 64);
    for (int32_t j = 0; j < n; j++) a[i][j] = (float)((j * 7919 % 2003) - 1001) / 300.0f;
  }
  for (int32_t j = 0; j < n; j++) a[2][j] = (float)(j % 10); // labels for softmax; v ≥ 0 for adam
  double best = 1e9;
  for (int rep = 0; rep < reps; rep++) {
    const double t0 = now();
    if (!strcmp(k, "relu")) T.activation_forward(0, a[0], n);
    else if (!strcmp(k, "tanh")) T.activation_forward(1, a[0], n);
    else if (!strcmp(k, "sigmoid")) T.activation_forward(2, a[0], n);
    else if (!strcmp(k, "relu_bwd")) T.activation_backward(0, a[0], a[1], n);
    else if (!strcmp(k, "tanh_bwd")) T.activation_backward(1, a[0], a[1], n);
    else if (!strcmp(k, "softmax10")) T.softmax_cross_entropy(a[0], a[2], n / 10, 10);
    else if (!strcmp(k, "sgd")) T.sgd_update(a[0], a[1], a[0], a[1], a[3], n, 0.01, 0.9, 0, 1.0 / 128, 0);
    else if (!strcmp(k, "sgd_nag")) T.sgd_update(a[0], a[1], a[0], a[1], a[3], n, 0.01, 0.9, 1e-4, 1.0 / 128, 1);
    else if (!strcmp(k, "adam"))
      T.adam_update(a[0], a[1], a[2], a[0], a[1], a[2], a[3], n, 1e-3, 0.9, 0.999, 1e-8, 0, 1, 1.2, 1.0 / 128);
    else if (!strcmp(k, "adamw"))
      T.adam_update(a[0], a[1], a[2], a[0], a[1], a[2], a[3], n, 1e-3, 0.9, 0.999, 1e-8, 0, 0.9999, 1.2, 1.0 / 128);
    else return 2;
    const double t = now() - t0;
    if (t < best) best = t;
    if (!strcmp(k, "softmax10") || !strcmp(k, "tanh") || !strcmp(k, "sigmoid") || !strcmp(k, "relu"))
      for (int32_t j = 0; j < n; j++) a[0][j] = (float)((j * 7919 % 2003) - 1001) / 300.0f;
  }
  printf("%.9f\n", best);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "fn") && argc == 5) return fn(argv[2], argv[3], argv[4]);
  if (argc < 3) {
    fprintf(stderr, "usage: see harness.c\n");
    return 2;
  }
  gp_elementwise_table(parse_isa(argv[2]), &T);
  if (!strcmp(argv[1], "batch") && argc == 5) return batch(argv[3], argv[4]);
  if (!strcmp(argv[1], "range") && argc == 6)
    return range(atoi(argv[3]), strtoull(argv[4], 0, 0), strtoull(argv[5], 0, 0));
  if (!strcmp(argv[1], "bench") && argc == 6) return bench(argv[3], atoi(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: see harness.c\n");
  return 2;
}
