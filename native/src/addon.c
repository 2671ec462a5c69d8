// The Node-API glue of the native kernels. JavaScript API:
//
//   cpu()  → { avx512f, avx512vl, avx512dq, avx2, fma, avx512, neon }: on x86-64 what
//            __builtin_cpu_supports reports; avx512 = the four the avx512 kernels need (avx512f,
//            avx512vl, avx512dq, fma). On arm64 neon and fma (both in every arm64 CPU), the rest
//            false.
//   bind(arena: Float32Array, isa: 'avx512' | 'avx2' | 'neon', fused: boolean)
//          → { linearForward, linearBackwardParams, linearBackwardInput, activationForward,
//              activationBackward, softmaxCrossEntropy, sgdUpdate, adamUpdate, gatherInputs,
//              isa, fused }:
//            the Kernels contract of src/nn/kernels/types.ts (same arguments, same order), with
//            offsets in floats into `arena`, a Float32Array over a SharedArrayBuffer (a shared
//            WebAssembly.Memory's buffer: it cannot be detached, so its address stays valid).
//            gatherInputs alone also takes typed arrays (a dataset's inputs and rows, outside
//            the arena), read during the call only.
//            Throws an Error where the CPU lacks the ISA (or FMA3, for fused).
//   peak(isa, fused, iterations) → the floating-point operations a register-only multiply-add
//            loop of `iterations` rounds did (the caller times it).
//
// Every kernel call checks that each range it reads or writes (its scratch `pack` included)
// lies in the arena, and throws a RangeError naming the kernel and the operand otherwise; an
// argument that is not a number is a TypeError. A binding lives in its functions' `data`, not
// in the module's instance data, so one thread can hold several (fused and unfused side by
// side); it is freed when the last of its functions is collected. The module is context-aware
// (NAPI_MODULE_INIT): it loads in every worker thread, each with its own bindings.
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "linear.h"
#include "peak.h"

typedef struct {
  float *base;        // the arena's first float
  size_t floats;      // its length
  gp_isa isa;
  gp_kernel_table k;
  napi_ref arena;     // keeps the typed array (and its memory) alive while any function is
  int live;           // functions not yet collected
} binding;

/* ---- CPU ---- */

typedef struct {
  bool avx512f, avx512vl, avx512dq, avx2, fma, neon;
} cpu_features;

static cpu_features cpu_detected;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_detect(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  cpu_features c = {
      .avx512f = __builtin_cpu_supports("avx512f"),
      .avx512vl = __builtin_cpu_supports("avx512vl"),
      .avx512dq = __builtin_cpu_supports("avx512dq"),
      .avx2 = __builtin_cpu_supports("avx2"),
      .fma = __builtin_cpu_supports("fma"),
  };
#else
  // AArch64 makes Advanced SIMD (NEON) and its fused multiply-add part of every CPU
  cpu_features c = {.neon = true, .fma = true};
#endif
  cpu_detected = c;
}

/** What the CPU has, detected once per process (worker threads call this concurrently). */
static cpu_features cpu_get(void) {
  pthread_once(&cpu_once, cpu_detect);
  return cpu_detected;
}

static bool cpu_avx512(cpu_features c) { return c.avx512f && c.avx512vl && c.avx512dq && c.fma; }

/** null where the CPU runs the variant, else what it lacks */
static const char *cpu_lacks(gp_isa isa, bool fused) {
  const cpu_features c = cpu_get();
  if (isa == GP_ISA_AVX512) {
    if (!cpu_avx512(c)) return "AVX-512 (the avx512 kernels need AVX-512F, AVX-512VL, AVX-512DQ and FMA3)";
  } else if (isa == GP_ISA_AVX2) {
    if (!c.avx2) return "AVX2";
    if (fused && !c.fma) return "FMA3 (the fused kernels need a fused multiply-add)";
  } else if (!c.neon) {
    return "NEON (the neon kernels are arm64's)";
  }
  return NULL;
}

/* ---- arguments ---- */

static napi_value fail_type(napi_env env, const char *kernel, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", kernel, what);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value fail_range(napi_env env, const char *kernel, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", kernel, what);
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/**
 * The call's n arguments and up to `optional` more (undefined where left out, as Node-API fills
 * them), and the binding; false (with a TypeError pending) if fewer than n were passed.
 */
static bool get_args_optional(napi_env env, napi_callback_info info, const char *kernel, size_t n, size_t optional,
                              napi_value *argv, binding **b) {
  size_t argc = n + optional;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) {
    fail_type(env, kernel, "cannot read the arguments");
    return false;
  }
  if (argc < n) {
    char what[96];
    snprintf(what, sizeof what, "expected %zu arguments, got %zu", n, argc);
    fail_type(env, kernel, what);
    return false;
  }
  if (b) *b = data;
  return true;
}

/** the call's n arguments and binding; false (with a TypeError pending) if fewer were passed */
static bool get_args(napi_env env, napi_callback_info info, const char *kernel, size_t n, napi_value *argv,
                     binding **b) {
  return get_args_optional(env, info, kernel, n, 0, argv, b);
}

static bool get_u32(napi_env env, napi_value v, const char *kernel, const char *name, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) == napi_ok) return true;
  char what[96];
  snprintf(what, sizeof what, "%s must be a number", name);
  fail_type(env, kernel, what);
  return false;
}

/** a size (B, I, O, n, …): a uint32 that fits an int32, as the kernels take it */
static bool get_size(napi_env env, napi_value v, const char *kernel, const char *name, int32_t *out) {
  uint32_t u;
  if (!get_u32(env, v, kernel, name, &u)) return false;
  if (u > INT32_MAX) {
    char what[96];
    snprintf(what, sizeof what, "%s = %u is too large", name, u);
    fail_range(env, kernel, what);
    return false;
  }
  *out = (int32_t)u;
  return true;
}

static bool get_i32(napi_env env, napi_value v, const char *kernel, const char *name, int32_t *out) {
  if (napi_get_value_int32(env, v, out) == napi_ok) return true;
  char what[96];
  snprintf(what, sizeof what, "%s must be a number", name);
  fail_type(env, kernel, what);
  return false;
}

static bool get_f64(napi_env env, napi_value v, const char *kernel, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok) return true;
  char what[96];
  snprintf(what, sizeof what, "%s must be a number", name);
  fail_type(env, kernel, what);
  return false;
}

/** whether floats [off, off + len) lie in the arena; a RangeError naming the operand if not */
static bool in_arena(napi_env env, const binding *b, const char *kernel, const char *name, uint32_t off, uint64_t len) {
  if (len == 0 || ((uint64_t)off <= b->floats && len <= (uint64_t)b->floats - off)) return true;
  char what[192];
  snprintf(what, sizeof what, "%s (floats %u … %llu) is outside the arena (%zu floats)", name, off,
           (unsigned long long)((uint64_t)off + len), b->floats);
  fail_range(env, kernel, what);
  return false;
}

#define U32(i, name, var)                                                                                              \
  uint32_t var;                                                                                                        \
  if (!get_u32(env, argv[i], K, name, &var)) return NULL
#define SIZE(i, name, var)                                                                                             \
  int32_t var;                                                                                                         \
  if (!get_size(env, argv[i], K, name, &var)) return NULL
#define I32(i, name, var)                                                                                              \
  int32_t var;                                                                                                         \
  if (!get_i32(env, argv[i], K, name, &var)) return NULL
#define F64(i, name, var)                                                                                              \
  double var;                                                                                                          \
  if (!get_f64(env, argv[i], K, name, &var)) return NULL
#define RANGE(name, off, len)                                                                                          \
  if (!in_arena(env, b, K, name, off, len)) return NULL
#define P(off) (b->base + (off))

/* ---- the kernels ---- */

static napi_value js_linear_forward(napi_env env, napi_callback_info info) {
  static const char K[] = "linearForward";
  napi_value argv[9];
  binding *b;
  if (!get_args_optional(env, info, K, 8, 1, argv, &b)) return NULL;
  U32(0, "out", out);
  U32(1, "a", a);
  U32(2, "w", w);
  U32(3, "bias", bias);
  SIZE(4, "B", B);
  SIZE(5, "I", I);
  SIZE(6, "O", O);
  U32(7, "pack", pack);
  // outStride, optional (argv[8] is undefined where it was left out): O
  int32_t ldo = O;
  napi_valuetype given;
  if (napi_typeof(env, argv[8], &given) == napi_ok && given != napi_undefined) {
    SIZE(8, "outStride", stride);
    if (stride < O) {
      char what[96];
      snprintf(what, sizeof what, "outStride = %d is less than O = %d", stride, O);
      fail_range(env, K, what);
      return NULL;
    }
    ldo = stride;
  }
  const uint64_t nB = (uint64_t)B, nI = (uint64_t)I, nO = (uint64_t)O;
  if (B == 0 || O == 0) return NULL;
  RANGE("out", out, (nB - 1) * (uint64_t)ldo + nO);
  RANGE("a", a, nB * nI);
  RANGE("w", w, nO * nI);
  RANGE("bias", bias, nO);
  RANGE("pack", pack, gp_linear_forward_pack(b->isa, B, I, O));
  b->k.linear_forward(P(out), P(a), P(w), P(bias), B, I, O, ldo, P(pack));
  return NULL;
}

static napi_value js_linear_backward_params(napi_env env, napi_callback_info info) {
  static const char K[] = "linearBackwardParams";
  napi_value argv[10];
  binding *b;
  if (!get_args(env, info, K, 10, argv, &b)) return NULL;
  U32(0, "dw", dw);
  U32(1, "db", db);
  U32(2, "dz", dz);
  U32(3, "a", a);
  SIZE(4, "B", B);
  SIZE(5, "I", I);
  SIZE(6, "O", O);
  SIZE(7, "o0", o0);
  SIZE(8, "o1", o1);
  U32(9, "pack", pack);
  if (o1 > O || o0 > o1) {
    char what[96];
    snprintf(what, sizeof what, "outputs [%d, %d) are not within [0, %d)", o0, o1, O);
    return fail_range(env, K, what);
  }
  if (o0 == o1) return NULL;
  const uint64_t nB = (uint64_t)B, nI = (uint64_t)I, nO = (uint64_t)O, n = (uint64_t)(o1 - o0);
  RANGE("dw", dw, n * nI);
  RANGE("db", db, n);
  // row r's columns [o0, o1) of dz: up to (B − 1)·O + o1
  RANGE("dz", dz, nB == 0 ? 0 : (nB - 1) * nO + (uint64_t)o1);
  RANGE("a", a, nB * nI);
  RANGE("pack", pack, gp_linear_backward_params_pack(B, I, O, o0, o1));
  b->k.linear_backward_params(P(dw), P(db), P(dz), P(a), B, I, O, o0, o1, P(pack));
  return NULL;
}

static napi_value js_linear_backward_input(napi_env env, napi_callback_info info) {
  static const char K[] = "linearBackwardInput";
  napi_value argv[7];
  binding *b;
  if (!get_args(env, info, K, 7, argv, &b)) return NULL;
  U32(0, "da", da);
  U32(1, "dz", dz);
  U32(2, "w", w);
  SIZE(3, "B", B);
  SIZE(4, "I", I);
  SIZE(5, "O", O);
  U32(6, "pack", pack);
  const uint64_t nB = (uint64_t)B, nI = (uint64_t)I, nO = (uint64_t)O;
  if (B == 0 || I == 0) return NULL;
  RANGE("da", da, nB * nI);
  RANGE("dz", dz, nB * nO);
  RANGE("w", w, nO * nI);
  RANGE("pack", pack, gp_linear_backward_input_pack(B, I, O));
  b->k.linear_backward_input(P(da), P(dz), P(w), B, I, O, P(pack));
  return NULL;
}

static napi_value js_activation_forward(napi_env env, napi_callback_info info) {
  static const char K[] = "activationForward";
  napi_value argv[3];
  binding *b;
  if (!get_args(env, info, K, 3, argv, &b)) return NULL;
  I32(0, "act", act);
  U32(1, "x", x);
  SIZE(2, "n", n);
  RANGE("x", x, (uint64_t)n);
  if (n > 0) b->k.activation_forward(act, P(x), n);
  return NULL;
}

static napi_value js_activation_backward(napi_env env, napi_callback_info info) {
  static const char K[] = "activationBackward";
  napi_value argv[4];
  binding *b;
  if (!get_args(env, info, K, 4, argv, &b)) return NULL;
  I32(0, "act", act);
  U32(1, "d", d);
  U32(2, "a", a);
  SIZE(3, "n", n);
  RANGE("d", d, (uint64_t)n);
  RANGE("a", a, (uint64_t)n);
  if (n > 0) b->k.activation_backward(act, P(d), P(a), n);
  return NULL;
}

static napi_value js_softmax_cross_entropy(napi_env env, napi_callback_info info) {
  static const char K[] = "softmaxCrossEntropy";
  napi_value argv[4];
  binding *b;
  if (!get_args(env, info, K, 4, argv, &b)) return NULL;
  U32(0, "logits", logits);
  U32(1, "labels", labels);
  SIZE(2, "B", B);
  SIZE(3, "C", C);
  if (B > 0 && C < 1) return fail_range(env, K, "a softmax needs one class or more");
  RANGE("logits", logits, (uint64_t)B * (uint64_t)C);
  RANGE("labels", labels, (uint64_t)B);
  // a label indexes its row: one outside [0, C) would read past it (wasm reads whatever is there)
  for (int32_t r = 0; r < B; r++) {
    const double v = b->base[labels + (uint32_t)r];
    if (!(v > -1.0 && v < (double)C)) {
      char what[128];
      snprintf(what, sizeof what, "label %g of row %d is not a class of 0 … %d", v, r, C - 1);
      return fail_range(env, K, what);
    }
  }
  const double loss = B > 0 ? b->k.softmax_cross_entropy(P(logits), P(labels), B, C) : 0.0;
  napi_value result;
  if (napi_create_double(env, loss, &result) != napi_ok) return NULL;
  return result;
}

static napi_value js_sgd_update(napi_env env, napi_callback_info info) {
  static const char K[] = "sgdUpdate";
  napi_value argv[11];
  binding *b;
  if (!get_args(env, info, K, 11, argv, &b)) return NULL;
  U32(0, "params", params);
  U32(1, "velocity", velocity);
  U32(2, "paramsOut", params_out);
  U32(3, "velocityOut", velocity_out);
  U32(4, "grad", grad);
  SIZE(5, "n", n);
  F64(6, "lr", lr);
  F64(7, "momentum", momentum);
  F64(8, "weightDecay", weight_decay);
  F64(9, "invBatch", inv_batch);
  F64(10, "nesterov", nesterov);
  const uint64_t len = (uint64_t)n;
  RANGE("params", params, len);
  RANGE("velocity", velocity, len);
  RANGE("paramsOut", params_out, len);
  RANGE("velocityOut", velocity_out, len);
  RANGE("grad", grad, len);
  if (n > 0)
    b->k.sgd_update(P(params), P(velocity), P(params_out), P(velocity_out), P(grad), n, lr, momentum, weight_decay,
                    inv_batch, nesterov);
  return NULL;
}

static napi_value js_adam_update(napi_env env, napi_callback_info info) {
  static const char K[] = "adamUpdate";
  napi_value argv[16];
  binding *b;
  if (!get_args(env, info, K, 16, argv, &b)) return NULL;
  U32(0, "params", params);
  U32(1, "m", m);
  U32(2, "v", v);
  U32(3, "paramsOut", params_out);
  U32(4, "mOut", m_out);
  U32(5, "vOut", v_out);
  U32(6, "grad", grad);
  SIZE(7, "n", n);
  F64(8, "stepSize", step_size);
  F64(9, "beta1", beta1);
  F64(10, "beta2", beta2);
  F64(11, "eps", eps);
  F64(12, "weightDecay", weight_decay);
  F64(13, "decay", decay);
  F64(14, "invBc2Sqrt", inv_bc2_sqrt);
  F64(15, "invBatch", inv_batch);
  const uint64_t len = (uint64_t)n;
  RANGE("params", params, len);
  RANGE("m", m, len);
  RANGE("v", v, len);
  RANGE("paramsOut", params_out, len);
  RANGE("mOut", m_out, len);
  RANGE("vOut", v_out, len);
  RANGE("grad", grad, len);
  if (n > 0)
    b->k.adam_update(P(params), P(m), P(v), P(params_out), P(m_out), P(v_out), P(grad), n, step_size, beta1, beta2,
                     eps, weight_decay, decay, inv_bc2_sqrt, inv_batch);
  return NULL;
}

/** a typed array's elements, or false with a TypeError pending where v is none of `type` */
static bool get_typed(napi_env env, napi_value v, const char *kernel, const char *what, napi_typedarray_type *type,
                      void **data, size_t *length) {
  bool is_typed = false;
  napi_value buffer;
  size_t offset = 0;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, type, length, data, &buffer, &offset) != napi_ok) {
    fail_type(env, kernel, what);
    return false;
  }
  return true;
}

static napi_value js_gather_inputs(napi_env env, napi_callback_info info) {
  static const char K[] = "gatherInputs";
  napi_value argv[6];
  binding *b;
  if (!get_args(env, info, K, 6, argv, &b)) return NULL;
  U32(0, "dst", dst);
  SIZE(3, "from", from);
  SIZE(4, "B", B);
  SIZE(5, "features", features);
  napi_typedarray_type type;
  void *inputs = NULL;
  size_t length = 0;
  if (!get_typed(env, argv[1], K, "inputs must be a Uint8Array or a Float32Array", &type, &inputs, &length))
    return NULL;
  if (type != napi_uint8_array && type != napi_float32_array)
    return fail_type(env, K, "inputs must be a Uint8Array or a Float32Array");
  napi_valuetype rows_kind;
  if (napi_typeof(env, argv[2], &rows_kind) != napi_ok) return fail_type(env, K, "cannot read rows");
  const int32_t *rows = NULL;
  size_t rows_length = 0;
  // given or not by the argument, not by the pointer: an empty Int32Array may have none
  const bool has_rows = rows_kind != napi_null && rows_kind != napi_undefined;
  if (has_rows) {
    napi_typedarray_type rows_type;
    void *rows_data = NULL;
    if (!get_typed(env, argv[2], K, "rows must be an Int32Array or null", &rows_type, &rows_data, &rows_length))
      return NULL;
    if (rows_type != napi_int32_array) return fail_type(env, K, "rows must be an Int32Array or null");
    rows = rows_data;
  }
  if (B == 0 || features == 0) return NULL;
  const uint64_t input_rows = length / (uint64_t)features;
  char what[160];
  if (has_rows) {
    if ((uint64_t)from + (uint64_t)B > rows_length) {
      snprintf(what, sizeof what, "rows [%d, %lld) are past the end of rows (%zu)", from, (long long)from + B,
               rows_length);
      return fail_range(env, K, what);
    }
  } else if ((uint64_t)from + (uint64_t)B > input_rows) {
    snprintf(what, sizeof what, "rows [%d, %lld) are past the inputs' %llu rows", from, (long long)from + B,
             (unsigned long long)input_rows);
    return fail_range(env, K, what);
  }
  RANGE("dst", dst, (uint64_t)B * (uint64_t)features);
  const int32_t bad = type == napi_uint8_array
                          ? b->k.gather_pixels(P(dst), inputs, (int64_t)input_rows, rows, from, B, features)
                          : b->k.gather_features(P(dst), inputs, (int64_t)input_rows, rows, from, B, features);
  // each row is checked where the gather reads it (rows may be shared, and rewritten meanwhile)
  if (bad >= 0) {
    snprintf(what, sizeof what, "row %d (rows[%lld]) is not a row of the inputs (%llu rows)",
             rows[(int64_t)from + bad], (long long)from + bad, (unsigned long long)input_rows);
    return fail_range(env, K, what);
  }
  return NULL;
}

/* ---- module functions ---- */

/** the last of a binding's functions collected frees it */
static void binding_release(napi_env env, void *data, void *hint) {
  (void)hint;
  binding *b = data;
  if (--b->live > 0) return;
  if (b->arena) napi_delete_reference(env, b->arena);
  free(b);
}

static bool parse_isa(napi_env env, napi_value v, const char *fn, gp_isa *isa) {
  char name[16] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok) {
    fail_type(env, fn, "isa must be a string, 'avx512', 'avx2' or 'neon'");
    return false;
  }
  if (strcmp(name, "avx512") == 0) *isa = GP_ISA_AVX512;
  else if (strcmp(name, "avx2") == 0) *isa = GP_ISA_AVX2;
  else if (strcmp(name, "neon") == 0) *isa = GP_ISA_NEON;
  else {
    char what[96];
    snprintf(what, sizeof what, "isa must be 'avx512', 'avx2' or 'neon', not '%s'", name);
    fail_type(env, fn, what);
    return false;
  }
  return true;
}

static bool parse_fused(napi_env env, napi_value v, const char *fn, bool *fused) {
  if (napi_get_value_bool(env, v, fused) == napi_ok) return true;
  fail_type(env, fn, "fused must be a boolean");
  return false;
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  static const char K[] = "bind";
  napi_value argv[3];
  if (!get_args(env, info, K, 3, argv, NULL)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void *data = NULL;
  napi_value buffer;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_float32_array)
    return fail_type(env, K, "arena must be a Float32Array");
  // napi_is_arraybuffer is false for a SharedArrayBuffer: a plain ArrayBuffer can be detached
  // (a non-shared WebAssembly.Memory's is, when it grows), which would leave a dangling address
  bool plain = false;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok || plain)
    return fail_type(env, K, "arena must be a Float32Array over a SharedArrayBuffer (a shared WebAssembly.Memory)");
  if (length > 0 && !data) return fail_type(env, K, "the arena's memory has no address");
  gp_isa isa;
  bool fused;
  if (!parse_isa(env, argv[1], K, &isa) || !parse_fused(env, argv[2], K, &fused)) return NULL;
  const char *lacks = cpu_lacks(isa, fused);
  if (lacks) {
    char msg[192];
    snprintf(msg, sizeof msg, "bind: this CPU has no %s", lacks);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }

  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"linearForward", js_linear_forward},
      {"linearBackwardParams", js_linear_backward_params},
      {"linearBackwardInput", js_linear_backward_input},
      {"activationForward", js_activation_forward},
      {"activationBackward", js_activation_backward},
      {"softmaxCrossEntropy", js_softmax_cross_entropy},
      {"sgdUpdate", js_sgd_update},
      {"adamUpdate", js_adam_update},
      {"gatherInputs", js_gather_inputs},
  };
  enum { NFNS = sizeof fns / sizeof fns[0] };

  binding *b = calloc(1, sizeof *b);
  if (!b) {
    napi_throw_error(env, NULL, "bind: out of memory");
    return NULL;
  }
  b->base = data;
  b->floats = length;
  b->isa = isa;
  gp_linear_table(isa, fused, &b->k);
  gp_elementwise_table(isa, &b->k);
  gp_gather_table(isa, &b->k);
  napi_value obj;
  if (napi_create_reference(env, argv[0], 1, &b->arena) != napi_ok || napi_create_object(env, &obj) != napi_ok) {
    if (b->arena) napi_delete_reference(env, b->arena);
    free(b);
    napi_throw_error(env, NULL, "bind: cannot create the binding");
    return NULL;
  }
  // each function holds the binding; the binding holds the arena
  for (int i = 0; i < NFNS; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, b, &fn) != napi_ok ||
        napi_add_finalizer(env, fn, b, binding_release, NULL, NULL) != napi_ok) {
      if (b->live == 0) {
        napi_delete_reference(env, b->arena);
        free(b);
      }
      napi_throw_error(env, NULL, "bind: cannot create the kernel functions");
      return NULL;
    }
    b->live++;
    napi_set_named_property(env, obj, fns[i].name, fn);
  }
  napi_value isa_name, is_fused;
  const char *name = isa == GP_ISA_AVX512 ? "avx512" : isa == GP_ISA_AVX2 ? "avx2" : "neon";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &isa_name);
  napi_get_boolean(env, fused, &is_fused);
  napi_set_named_property(env, obj, "isa", isa_name);
  napi_set_named_property(env, obj, "fused", is_fused);
  return obj;
}

static napi_value js_peak(napi_env env, napi_callback_info info) {
  static const char K[] = "peak";
  napi_value argv[3];
  if (!get_args(env, info, K, 3, argv, NULL)) return NULL;
  gp_isa isa;
  bool fused;
  int64_t iterations;
  if (!parse_isa(env, argv[0], K, &isa) || !parse_fused(env, argv[1], K, &fused)) return NULL;
  if (napi_get_value_int64(env, argv[2], &iterations) != napi_ok)
    return fail_type(env, K, "iterations must be a number");
  const char *lacks = cpu_lacks(isa, fused);
  if (lacks) {
    char msg[192];
    snprintf(msg, sizeof msg, "peak: this CPU has no %s", lacks);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_value result;
  if (napi_create_double(env, gp_peak_flops(isa, fused, iterations), &result) != napi_ok) return NULL;
  return result;
}

static void set_bool(napi_env env, napi_value obj, const char *name, bool v) {
  napi_value x;
  napi_get_boolean(env, v, &x);
  napi_set_named_property(env, obj, name, x);
}

static napi_value js_cpu(napi_env env, napi_callback_info info) {
  (void)info;
  const cpu_features c = cpu_get();
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  set_bool(env, obj, "avx512f", c.avx512f);
  set_bool(env, obj, "avx512vl", c.avx512vl);
  set_bool(env, obj, "avx512dq", c.avx512dq);
  set_bool(env, obj, "avx2", c.avx2);
  set_bool(env, obj, "fma", c.fma);
  set_bool(env, obj, "avx512", cpu_avx512(c));
  set_bool(env, obj, "neon", c.neon);
  return obj;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
      {"cpu", NULL, js_cpu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peak", NULL, js_peak, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof d / sizeof d[0], d) != napi_ok) return NULL;
  return exports;
}
