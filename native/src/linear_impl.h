// The three linear kernels for one instruction set and one arithmetic. linear.c includes this
// file once per (ISA, FUSED) pair after defining:
//   TARGET      the target attribute's string
//   FN(x)       x with the pair's suffix
//   FUSED       1: madd is a fused multiply-add (= kernels-relaxed.wasm), 0: a multiply, then an add
//   V, VL       the vector type and its floats (16: AVX-512, 8: AVX2)
//   V_*         vector operations (see linear.c), M128_LOADN / M128_STOREN, V_LANE128, V_ROWS,
//               Y_LOADN (the first m floats into a __m256), APPEND8 (adds nonzero lanes to a list)
//   FWD_RMAX    forward: most rows a pass over W takes (12 on AVX-512, 6 on AVX2; gp_forward_rows)
//   FWD_NQ(R), FWD_NQMAX  forward: groups of 4 outputs a block of R rows holds, the most of them
//   PAR_K8, PAR_K4   weight gradient: vectors of k a dense tile of 8 / 4 outputs holds
//   INP_K       input gradient: vectors of k a dense tile of 4 rows holds
//   PAR_LIST_K, INP_LIST_K  vectors of k a list walk holds per list (two lists walk together)
//   Q, QI, Q_*, QI_*  a vector of 4 floats (one wasm v128) and of their bits: zero, load,
//               store, set, or, "any bit set"
//   GP_X86      1 on x86-64: the passes that make dz's lists use AVX2 (APPEND8, 8 lanes);
//               0 elsewhere: the same lists and sums, one float at a time
//
// Every output is computed in the order assembly/kernels.ts computes it; the comments at each
// kernel say which order that is. "madd" below is the wasm kernel's madd (MADD here); where the
// wasm kernel multiplies and then adds, so does MADD0, in both arithmetics.

#ifdef TARGET
#define ATTR __attribute__((target(TARGET)))
#define INL static inline __attribute__((target(TARGET), always_inline))
#else
#define ATTR
#define INL static inline __attribute__((always_inline))
#endif

#if FUSED
#define MADD(x, y, c) V_FMA(x, y, c)
#else
#define MADD(x, y, c) V_ADD(V_MUL(x, y), c)
#endif
#define MADD0(x, y, c) V_ADD(V_MUL(x, y), c)
// F is a compile-time constant wherever this is used: 1 = the build's madd, 0 = unfused
#define MADDF(F, x, y, c) ((F) ? MADD(x, y, c) : MADD0(x, y, c))

/* ============================================================================================
 * linearForward: out = a·wᵀ + bias, out's rows ldo floats apart (≥ O; the floats between are
 * not written).
 *
 * wasm order for output (r, o): four lanes j = 0..3, lane j = madd over k ≡ j (mod 4), k < I&~3,
 * in increasing k, from +0; then (l0 + l1) + (l2 + l3); then s += a[r][k]·w[o][k] for the
 * k tail, unfused; then s + bias[o]. Remainder rows (dot) and skipped all-zero groups of inputs
 * (the sparse tile) give the same bits, so tiles here may differ from wasm's.
 *
 * Here: up to FWD_RMAX rows are packed as wasm packs a tile of 4, per group of 4 inputs (row 0
 * k..k+3, row 1, …: 4 floats a row), so one vector holds VL/4 rows × the 4 lanes. A block
 * multiplies them by 4·NQ outputs: acc = madd(rows, broadcast(w[o][k..k+3]), acc), each lane
 * (row, j) summing k ≡ j (mod 4) in k order, exactly a wasm lane. W is read in place, not
 * repacked, so a call of up to FWD_RMAX rows costs one pass over W. Rows past a call's last
 * (wasm's dot for the 1–3 past its last tile) are packed as zeros, computed and dropped.
 * ==========================================================================================*/

/** lanes (row i, output j) = (l0+l1)+(l2+l3) of accumulator j's row i, for 4 accumulators */
INL V FN(reduce4)(V a, V b, V c, V d) {
  V p = V_ADD(V_SHUF(a, b, 0x88), V_SHUF(a, b, 0xDD)); // a0+a1, a2+a3, b0+b1, b2+b3 per row
  V q = V_ADD(V_SHUF(c, d, 0x88), V_SHUF(c, d, 0xDD));
  return V_ADD(V_SHUF(p, q, 0x88), V_SHUF(p, q, 0xDD)); // (a0+a1)+(a2+a3), … per row
}

/** groups of 4 inputs (k < I&~3) in which any of the `rows` rows at a has a nonzero bit */
INL int FN(fwd_count)(const float *a, int rows, int I) {
  const int G = I >> 2;
  int kept = 0;
  for (int g = 0; g < G; g++) {
    QI x = QI_ZERO();
    for (int i = 0; i < rows; i++) x = QI_OR(x, QI_LOAD(a + (size_t)i * I + 4 * g));
    kept += QI_ANY(x);
  }
  return kept;
}

/**
 * `rows` rows at a packed as R, 4·R floats per group of 4 inputs (missing rows as zeros): every
 * group, or with `sparse` only those with a nonzero, their k recorded in list. Returns how many
 * groups were packed.
 */
INL int FN(fwd_pack)(float *tiles, uint32_t *list, const float *a, int rows, int I, int R, int sparse) {
  const int G = I >> 2;
  const Q zero = Q_ZERO();
  int n = 0;
  for (int g = 0; g < G; g++) {
    const size_t k = (size_t)4 * g;
    Q x[FWD_RMAX];
    QI any = QI_ZERO();
    for (int i = 0; i < R; i++) {
      x[i] = i < rows ? Q_LOAD(a + (size_t)i * I + k) : zero;
      any = QI_OR(any, Q_BITS(x[i]));
    }
    if (sparse) {
      if (!QI_ANY(any)) continue;
      list[n] = (uint32_t)k;
    }
    float *q = tiles + (size_t)n * 4 * R;
    for (int i = 0; i < R; i++) Q_STORE(q + 4 * i, x[i]);
    n++;
  }
  return n;
}

/**
 * One block: the R packed rows (`rows` of them real) × outputs o … o+4·NQ−1 (`nout` of them
 * real; the others repeat output O−1 and are not stored). n packed groups, at k = list[g]
 * (SPARSE) or 4g.
 */
INL void FN(fwd_block)(float *out, const float *a, const float *w, const float *bias, int rows, int I, int O, int ldo,
                        int o, int nout, const float *tiles, const uint32_t *list, int n, const int R, const int NQ,
                        const int SPARSE) {
  enum { RPV = VL / 4, NVMAX = FWD_RMAX / RPV, NMAX = 4 * FWD_NQMAX };
  const int NV = R / RPV; // vectors per packed group
  const int N = 4 * NQ;
  const float *wr[NMAX];
#pragma GCC unroll 32
  for (int j = 0; j < N; j++) wr[j] = w + (size_t)(o + j < O ? o + j : O - 1) * I;
  V acc[NVMAX][NMAX];
#pragma GCC unroll 32
  for (int v = 0; v < NV; v++)
#pragma GCC unroll 32
    for (int j = 0; j < N; j++) acc[v][j] = V_ZERO();

  for (int g = 0; g < n; g++) {
    const size_t k = SPARSE ? list[g] : (size_t)4 * g;
    const float *tp = tiles + (size_t)g * 4 * R;
    V t[NVMAX];
#pragma GCC unroll 32
    for (int v = 0; v < NV; v++) t[v] = V_LOAD(tp + v * VL);
#pragma GCC unroll 32
    for (int j = 0; j < N; j++) {
      const V b = V_BCAST4(wr[j] + k);
#pragma GCC unroll 32
      for (int v = 0; v < NV; v++) acc[v][j] = MADD(t[v], b, acc[v][j]);
    }
  }

  // the lanes, the scalar tail of k (rows read in place), the bias: each as wasm's finishTile
  const int I4 = I & ~3;
#pragma GCC unroll 32
  for (int v = 0; v < NV; v++) {
    V ta[3]; // lanes (row i, *) = a[row i][k] for the tail's k
    for (int k = I4; k < I; k++) {
      float x[RPV];
      for (int i = 0; i < RPV; i++) x[i] = v * RPV + i < rows ? a[(size_t)(v * RPV + i) * I + k] : 0.0f;
      ta[k - I4] = V_ROWS(x);
    }
#pragma GCC unroll 32
    for (int q = 0; q < NQ; q++) {
      V s = FN(reduce4)(acc[v][4 * q], acc[v][4 * q + 1], acc[v][4 * q + 2], acc[v][4 * q + 3]);
      for (int k = I4; k < I; k++) {
        const Q wk = Q_SET4(wr[4 * q][k], wr[4 * q + 1][k], wr[4 * q + 2][k], wr[4 * q + 3][k]);
        s = V_ADD(s, V_MUL(ta[k - I4], V_BCAST4X(wk)));
      }
      const int m = nout - 4 * q < 4 ? nout - 4 * q : 4;
      if (m <= 0) break;
      s = V_ADD(s, V_BCAST4X(M128_LOADN(bias + o + 4 * q, m)));
#pragma GCC unroll 4
      for (int i = 0; i < RPV; i++) {
        const int row = v * RPV + i;
        if (row >= rows) break;
        float *p = out + (size_t)row * ldo + o + 4 * q;
        const Q x = V_LANE128(s, i);
        if (m == 4) Q_STORE(p, x);
        else M128_STOREN(p, x, m);
      }
    }
  }
}

/** every output of one packed block of R rows: blocks of 4·FWD_NQ(R) outputs, then of 4 */
INL void FN(fwd_outputs)(float *out, const float *a, const float *w, const float *bias, int rows, int I, int O,
                          int ldo, const float *tiles, const uint32_t *list, int n, const int R, const int SPARSE) {
  const int NQ = FWD_NQ(R);
  const int NB = 4 * NQ;
  int o = 0;
  for (; o + NB <= O; o += NB) FN(fwd_block)(out, a, w, bias, rows, I, O, ldo, o, NB, tiles, list, n, R, NQ, SPARSE);
  for (; o < O; o += 4) {
    const int nout = O - o < 4 ? O - o : 4;
    FN(fwd_block)(out, a, w, bias, rows, I, O, ldo, o, nout, tiles, list, n, R, 1, SPARSE);
  }
}

/** fwd_outputs with R and SPARSE as constants, for the R this build takes */
INL void FN(fwd_rows)(float *out, const float *a, const float *w, const float *bias, int rows, int I, int O,
                       int ldo, const float *tiles, const uint32_t *list, int n, int R, int sparse) {
#define FWD_CASE(RC)                                                                                                   \
  if (R == (RC)) {                                                                                                     \
    if (sparse) FN(fwd_outputs)(out, a, w, bias, rows, I, O, ldo, tiles, list, n, RC, 1);                                   \
    else FN(fwd_outputs)(out, a, w, bias, rows, I, O, ldo, tiles, list, n, RC, 0);                                          \
    return;                                                                                                            \
  }
#if FWD_RMAX >= 12
  FWD_CASE(12)
  FWD_CASE(8)
#elif FWD_RMAX >= 6
  FWD_CASE(6)
#endif
  FWD_CASE(4)
#undef FWD_CASE
  __builtin_trap(); // gp_forward_rows gave a pass this build has no case for: a bug, not bad input
}

ATTR static void FN(linear_forward)(float *out, const float *a, const float *w, const float *bias, int32_t B, int32_t I,
                                    int32_t O, int32_t ldo, float *pack) {
  if (B <= 0 || O <= 0) return;
  const int G = I >> 2;
  // the packed rows start on a cache line (pack has 16 floats to spare: see gp_linear_forward_pack)
  float *tiles = (float *)(((uintptr_t)pack + 63) & ~(uintptr_t)63);
  for (int r = 0; r < B;) {
    // as many rows a pass over W as the registers hold accumulators for (gp_forward_rows)
    const int R = gp_forward_rows(FWD_RMAX, B - r);
    const int rows = B - r < R ? B - r : R;
    const float *ar = a + (size_t)r * I;
    float *outr = out + (size_t)r * ldo;
    // Groups of inputs all zero in every row (MNIST's borders) are skipped: they add ±0 to
    // lanes that never hold −0 (w finite), which changes no bit. The list of the others
    // follows their packed rows, so it is taken only where both fit in the dense rows' room.
    const int kept = G > 0 ? FN(fwd_count)(ar, rows, I) : 0;
    const int sparse = kept < G && (size_t)kept * (4 * R + 1) <= (size_t)4 * R * G;
    uint32_t *list = (uint32_t *)(tiles + (size_t)4 * R * kept);
    const int n = FN(fwd_pack)(tiles, list, ar, rows, I, R, sparse);
    FN(fwd_rows)(outr, ar, w, bias, rows, I, O, ldo, tiles, list, n, R, sparse);
    r += rows;
  }
}

/* ============================================================================================
 * Lists of nonzero entries (weight and input gradients), as wasm's nonzeroList: the values of
 * a column (or row) of dz that are not ±0, in order, each with the float offset of the row of
 * a (or w) it multiplies (gp_entry). A list is 4 floats of header (its length), then 2 floats
 * an entry. Summing over a list instead of every row adds no ±0·x = ±0 to accumulators that
 * never hold −0, which for finite x changes no bit (wasm's argument; see assembly/kernels.ts).
 * ==========================================================================================*/

INL uint32_t *FN(list_len)(float *list) { return (uint32_t *)list; }
INL gp_entry *FN(list_at)(float *list) { return (gp_entry *)(list + 4); }

/** vector v of the K at x: the last one holds m floats (masked when MASKED) */
#define LOADK(x, v, K, m, MASKED) ((MASKED) && (v) == (K)-1 ? V_LOADM((x) + (v)*VL, m) : V_LOAD((x) + (v)*VL))
#define STOREK(x, v, K, m, MASKED, val)                                                                                \
  do {                                                                                                                 \
    if ((MASKED) && (v) == (K)-1) V_STOREM((x) + (v)*VL, val, m);                                                      \
    else V_STORE((x) + (v)*VL, val);                                                                                   \
  } while (0)

/**
 * Splits [0, len) floats into strips of at most KMAX vectors, as even as can be (a strip of
 * few vectors has too few independent chains), and calls TILE(k, K, m, MASKED) for each: the
 * strip at float k, K vectors, the last holding m floats. K is a constant in each call.
 */
#define FOR_STRIPS(len, KMAX, TILE)                                                                                    \
  do {                                                                                                                 \
    const int nvec_ = ((len) + VL - 1) / VL;                                                                           \
    const int ns_ = (nvec_ + (KMAX)-1) / (KMAX);                                                                       \
    int k_ = 0;                                                                                                        \
    for (int s_ = 0; s_ < ns_; s_++) {                                                                                 \
      const int kv_ = nvec_ / ns_ + (s_ < nvec_ % ns_);                                                                \
      const int end_ = k_ + kv_ * VL < (len) ? k_ + kv_ * VL : (len);                                                  \
      const int m_ = end_ - k_ - (kv_ - 1) * VL;                                                                       \
      if (m_ == VL) {                                                                                                  \
        switch (kv_) {                                                                                                 \
        case 1: TILE(k_, 1, VL, 0); break;                                                                             \
        case 2: if ((KMAX) >= 2) TILE(k_, 2, VL, 0); break;                                                            \
        case 3: if ((KMAX) >= 3) TILE(k_, 3, VL, 0); break;                                                            \
        case 4: if ((KMAX) >= 4) TILE(k_, 4, VL, 0); break;                                                            \
        case 5: if ((KMAX) >= 5) TILE(k_, 5, VL, 0); break;                                                            \
        case 6: if ((KMAX) >= 6) TILE(k_, 6, VL, 0); break;                                                            \
        case 7: if ((KMAX) >= 7) TILE(k_, 7, VL, 0); break;                                                            \
        default: if ((KMAX) >= 8) TILE(k_, 8, VL, 0); break;                                                           \
        }                                                                                                              \
      } else {                                                                                                         \
        switch (kv_) {                                                                                                 \
        case 1: TILE(k_, 1, m_, 1); break;                                                                             \
        case 2: if ((KMAX) >= 2) TILE(k_, 2, m_, 1); break;                                                            \
        case 3: if ((KMAX) >= 3) TILE(k_, 3, m_, 1); break;                                                            \
        case 4: if ((KMAX) >= 4) TILE(k_, 4, m_, 1); break;                                                            \
        case 5: if ((KMAX) >= 5) TILE(k_, 5, m_, 1); break;                                                            \
        case 6: if ((KMAX) >= 6) TILE(k_, 6, m_, 1); break;                                                            \
        case 7: if ((KMAX) >= 7) TILE(k_, 7, m_, 1); break;                                                            \
        default: if ((KMAX) >= 8) TILE(k_, 8, m_, 1); break;                                                           \
        }                                                                                                              \
      }                                                                                                                \
      k_ = end_;                                                                                                       \
    }                                                                                                                  \
  } while (0)

/**
 * outa[0 … (K−1)·VL + m) = Σ over list a's entries (off, v), in order, of v · base[off + …),
 * madd (F = 1) or multiply-then-add (F = 0); the same for list b into outb (b may be null).
 * Two lists at once give 2K independent chains (one alone would wait on its adds).
 */
INL void FN(list_sum2)(float *la, float *outa, float *lb, float *outb, const float *base, const int K, int m,
                        const int MASKED, const int F) {
  V ca[8], cb[8];
#pragma GCC unroll 8
  for (int v = 0; v < K; v++) ca[v] = cb[v] = V_ZERO();
  const gp_entry *ea = FN(list_at)(la);
  const gp_entry *eb = lb ? FN(list_at)(lb) : ea;
  const uint32_t na = *FN(list_len)(la), nb = lb ? *FN(list_len)(lb) : 0;
  const uint32_t both = na < nb ? na : nb;
  uint32_t i = 0;
  for (; i < both; i++) {
    const V sa = V_BCAST1(&ea[i].v), sb = V_BCAST1(&eb[i].v);
    const float *xa = base + ea[i].off, *xb = base + eb[i].off;
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) {
      ca[v] = MADDF(F, sa, LOADK(xa, v, K, m, MASKED), ca[v]);
      cb[v] = MADDF(F, sb, LOADK(xb, v, K, m, MASKED), cb[v]);
    }
  }
  for (uint32_t j = i; j < na; j++) {
    const V s = V_BCAST1(&ea[j].v);
    const float *x = base + ea[j].off;
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) ca[v] = MADDF(F, s, LOADK(x, v, K, m, MASKED), ca[v]);
  }
  for (uint32_t j = i; j < nb; j++) {
    const V s = V_BCAST1(&eb[j].v);
    const float *x = base + eb[j].off;
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) cb[v] = MADDF(F, s, LOADK(x, v, K, m, MASKED), cb[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < K; v++) STOREK(outa, v, K, m, MASKED, ca[v]);
  if (lb) {
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) STOREK(outb, v, K, m, MASKED, cb[v]);
  }
}

/**
 * For each of the n lists at lists (stride ls floats): out_i[k0 … k1) = its sum, out_i at
 * out + i·os; strip by strip (a strip of base, read by every list, stays in L1), lists in pairs.
 */
INL void FN(lists_sum)(float *lists, size_t ls, int n, float *out, size_t os, const float *base, int k0, int k1,
                        const int KMAX, const int F) {
  // Each pair walks together only as far as its shorter list, then each alone with half the
  // chains and a mispredicted exit: the shorter list is padded instead, with entries of value
  // +0 at a row the pair reads anyway. madd(+0, x, acc) = acc for finite x (acc is never −0),
  // so the padding changes no bit (the contract's argument for skipping zeros, run backwards).
  for (int i = 0; i + 2 <= n; i += 2) {
    float *la = lists + i * ls, *lb = la + ls;
    uint32_t na = *FN(list_len)(la), nb = *FN(list_len)(lb);
    if (na == nb) continue;
    float *shorter = na < nb ? la : lb;
    const uint32_t from = na < nb ? na : nb, to = na < nb ? nb : na;
    gp_entry *e = FN(list_at)(shorter);
    const uint32_t off = from ? e[from - 1].off : FN(list_at)(na < nb ? lb : la)[0].off;
    for (uint32_t j = from; j < to; j++) {
      e[j].off = off;
      e[j].v = 0.0f;
    }
    *FN(list_len)(shorter) = to;
  }
#define LS_TILE(k, K, m, MASKED)                                                                                       \
  do {                                                                                                                 \
    const float *b_ = base + k0 + (k);                                                                                 \
    int i_ = 0;                                                                                                        \
    for (; i_ + 2 <= n; i_ += 2) {                                                                                     \
      float *o_ = out + i_ * os + k0 + (k);                                                                            \
      FN(list_sum2)(lists + i_ * ls, o_, lists + (i_ + 1) * ls, o_ + os, b_, K, m, MASKED, F);                         \
    }                                                                                                                  \
    if (i_ < n) FN(list_sum2)(lists + i_ * ls, out + i_ * os + k0 + (k), NULL, NULL, b_, K, m, MASKED, F);             \
  } while (0)
  if (k1 > k0) FOR_STRIPS(k1 - k0, KMAX, LS_TILE);
#undef LS_TILE
}

/* ============================================================================================
 * linearBackwardParams: dw[(o−o0)·I + k] = Σ_r dz[r][o]·a[r][k], db[o−o0] = Σ_r dz[r][o].
 *
 * wasm order: chunks of up to 8 outputs from o0 (to oFull, the last multiple of 4 past o0),
 * then one chunk of the 1–3 outputs left (the tail). For k < I&~7 each element is a chain over
 * r = 0…B−1: madd(dz, a, acc) in a chunk, multiply-then-add in the tail chunk. For k ≥ I&~7
 * (columnDot) and for db: s += dz·a, s += dz, over every r, unfused. Rows with dz = ±0 may be
 * skipped anywhere (see the lists above).
 *
 * Here: groups of up to 32 outputs (as many lists as the scratch holds). A mostly-zero group
 * walks each output's list of nonzero rows, strip by strip of k; otherwise chunks of 8 (or 4)
 * outputs take the dense tile, 8 (or 4) outputs × PAR_K8 (PAR_K4) vectors of k, over every row.
 * pack: a chunk's columns of dz (B × 8 floats, zero-padded), then the group's lists of 2B + 4
 * floats each (gp_linear_backward_params_pack).
 * ==========================================================================================*/

/** dw rows j = 0…N−1 at dwk (stride I), floats [0, (K−1)·VL + m) = Σ_r zp[8r + j] · ak[r·I + …), madd, every r */
INL void FN(par_tile)(float *dwk, const float *ak, const float *zp, int B, int I, const int N, const int K, int m,
                       const int MASKED) {
  V c[8][8];
#pragma GCC unroll 8
  for (int j = 0; j < N; j++)
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) c[j][v] = V_ZERO();
  for (int r = 0; r < B; r++) {
    const float *ar = ak + (size_t)r * I;
    V x[8];
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) x[v] = LOADK(ar, v, K, m, MASKED);
#pragma GCC unroll 8
    for (int j = 0; j < N; j++) {
      const V s = V_BCAST1(zp + 8 * r + j);
#pragma GCC unroll 8
      for (int v = 0; v < K; v++) c[j][v] = MADD(s, x[v], c[j][v]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; j++)
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) STOREK(dwk + (size_t)j * I, v, K, m, MASKED, c[j][v]);
}

/** a chunk of n = 4 or 8 outputs over every row: tiles of N outputs × up to K vectors, accumulators in registers */
INL void FN(par_dense)(float *dw, const float *a, const float *zp, int B, int I, int n) {
  const int I8 = I & ~7;
#define PT8(k, K, m, MASKED) FN(par_tile)(dw + (k), a + (k), zp, B, I, 8, K, m, MASKED)
#define PT4(k, K, m, MASKED) FN(par_tile)(dwj + (k), a + (k), zp + j, B, I, 4, K, m, MASKED)
#if PAR_K8 > 0
  if (n == 8) {
    FOR_STRIPS(I8, PAR_K8, PT8);
    return;
  }
#endif
  for (int j = 0; j < n; j += 4) {
    float *dwj = dw + (size_t)j * I;
    FOR_STRIPS(I8, PAR_K4, PT4);
  }
#undef PT8
#undef PT4
}

#if GP_X86
/**
 * One pass over the rows of a chunk (outputs c0 … c0+n−1): its columns of dz copied to zp
 * (8 floats a row, zero-padded), their lists, and, lanes = outputs, db and the columnDot tail
 * (k ≥ I&~7): unfused chains s = s + dz and s = s + dz·a over every row in order, as wasm's
 * scalar loops. Returns how many entries the lists hold.
 */
INL size_t FN(par_pass)(float *dw, float *db, float *zp, float *lists, size_t ls, const float *dz, const float *a,
                         int B, int I, int O, int c0, int n) {
  const int I8 = I & ~7;
  const int nk = I - I8;
  const __m256 zero = _mm256_setzero_ps();
  __m256 s = zero;
  __m256 t[7];
  for (int kk = 0; kk < 7; kk++) t[kk] = zero;
  uint32_t cnt[8] = {0};
  const __m256i rowstep = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(I));
  for (int r = 0; r < B; r += 8) {
    const int rb = B - r < 8 ? B - r : 8;
    __m256 x[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
      if (i < rb) {
        const float *zr = dz + (size_t)(r + i) * O + c0;
        x[i] = n == 8 ? _mm256_loadu_ps(zr) : Y_LOADN(zr, n);
        _mm256_storeu_ps(zp + 8 * (r + i), x[i]);
        s = _mm256_add_ps(s, x[i]);
        if (nk) {
          const float *ar = a + (size_t)(r + i) * I + I8;
          for (int kk = 0; kk < nk; kk++) t[kk] = _mm256_add_ps(t[kk], _mm256_mul_ps(x[i], _mm256_set1_ps(ar[kk])));
        }
      } else {
        x[i] = zero;
      }
    }
    gp_transpose8(x); // x[j] lane i = dz[r + i][c0 + j]
    const __m256i offs = _mm256_add_epi32(_mm256_set1_epi32((int)((uint32_t)r * (uint32_t)I)), rowstep);
    for (int j = 0; j < n; j++) cnt[j] = APPEND8(FN(list_at)(lists + j * ls), cnt[j], x[j], offs, rb);
  }
  size_t total = 0;
  for (int j = 0; j < n; j++) {
    *FN(list_len)(lists + j * ls) = cnt[j];
    total += cnt[j];
  }
  float y[8];
  _mm256_storeu_ps(y, s);
  for (int j = 0; j < n; j++) db[j] = y[j];
  for (int kk = 0; kk < nk; kk++) {
    _mm256_storeu_ps(y, t[kk]);
    for (int j = 0; j < n; j++) dw[(size_t)j * I + I8 + kk] = y[j];
  }
  return total;
}

/** nonzero (not ±0) values of dz's columns [c0, c0 + n) over its B rows */
INL size_t FN(count_nonzero)(const float *dz, int B, int O, int c0, int n) {
  const __m256 zero = _mm256_setzero_ps();
  size_t c = 0;
  for (int r = 0; r < B; r++) {
    const float *zr = dz + (size_t)r * O + c0;
    for (int j = 0; j < n; j += 8) {
      const __m256 v = n - j >= 8 ? _mm256_loadu_ps(zr + j) : Y_LOADN(zr + j, n - j);
      c += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ)));
    }
  }
  return c;
}
#else
/**
 * par_pass one float at a time: zp holds the chunk's columns of dz (8 floats a row, zeros past
 * n); db[j] and the columnDot tail are s = s + dz and s = s + dz·a over every row in order,
 * unfused; each output's list holds its nonzero (not ±0; NaN kept) rows in order. The same
 * floats and lists as the AVX2 pass, which does the same sums 8 outputs to a vector.
 */
INL size_t FN(par_pass)(float *dw, float *db, float *zp, float *lists, size_t ls, const float *dz, const float *a,
                         int B, int I, int O, int c0, int n) {
  const int I8 = I & ~7;
  const int nk = I - I8;
  size_t total = 0;
  for (int r = 0; r < B; r++)
    for (int j = 0; j < 8; j++) zp[8 * r + j] = j < n ? dz[(size_t)r * O + c0 + j] : 0.0f;
  for (int j = 0; j < n; j++) {
    gp_entry *e = FN(list_at)(lists + j * ls);
    uint32_t c = 0;
    float s = 0.0f;
    float t[7] = {0};
    for (int r = 0; r < B; r++) {
      const float z = zp[8 * r + j];
      s = s + z;
      const float *ar = a + (size_t)r * I + I8;
      for (int kk = 0; kk < nk; kk++) t[kk] = t[kk] + z * ar[kk];
      if (z != 0.0f) {
        e[c].off = (uint32_t)r * (uint32_t)I;
        e[c].v = z;
        c++;
      }
    }
    *FN(list_len)(lists + j * ls) = c;
    total += c;
    db[j] = s;
    for (int kk = 0; kk < nk; kk++) dw[(size_t)j * I + I8 + kk] = t[kk];
  }
  return total;
}

/** nonzero (not ±0) values of dz's columns [c0, c0 + n) over its B rows */
INL size_t FN(count_nonzero)(const float *dz, int B, int O, int c0, int n) {
  size_t c = 0;
  for (int r = 0; r < B; r++)
    for (int j = 0; j < n; j++) c += dz[(size_t)r * O + c0 + j] != 0.0f;
  return c;
}
#endif

ATTR static void FN(linear_backward_params)(float *dw, float *db, const float *dz, const float *a, int32_t B, int32_t I,
                                            int32_t O, int32_t o0, int32_t o1, float *pack) {
  const int oFull = o0 + (((o1 - o0) >> 2) << 2);
  const int I8 = I & ~7;
  const size_t ls = 2 * (size_t)B + 4;
  float *zp = pack;
  float *lists = pack + (size_t)8 * B;
  // The lists walk a strip of a once per group of outputs, so the more lists the scratch holds
  // the fewer times a is read from L2: up to 32 outputs at once (see gp_linear_backward_params_pack).
  const int S = gp_params_group(B, I, O);
  for (int c0 = o0; c0 < o1;) {
    if (c0 >= oFull) {
      // the 1–3 outputs past the last multiple of 4 keep wasm's scalar rounding (tailChunk)
      const int n = o1 - c0;
      float *dwc = dw + (size_t)(c0 - o0) * I;
      FN(par_pass)(dwc, db + (c0 - o0), zp, lists, ls, dz, a, B, I, O, c0, n);
      FN(lists_sum)(lists, ls, n, dwc, (size_t)I, a, 0, I8, PAR_LIST_K, 0);
      break;
    }
    const int c1 = c0 + S < oFull ? c0 + S : oFull;
    // Mostly zero (behind a relu): every output of the group from its list; otherwise chunks of
    // 8 (or 4) outputs in the dense tile. Both give the same bits; the choice is only speed.
    const int sparse = FN(count_nonzero)(dz, B, O, c0, c1 - c0) * 100 <= (size_t)(c1 - c0) * B * PAR_SPARSE_PCT(I);
    for (int s0 = c0; s0 < c1; s0 += 8) {
      const int n = c1 - s0 < 8 ? c1 - s0 : 8;
      float *dws = dw + (size_t)(s0 - o0) * I;
      FN(par_pass)(dws, db + (s0 - o0), zp, lists + (size_t)(s0 - c0) * ls, ls, dz, a, B, I, O, s0, n);
      if (!sparse) FN(par_dense)(dws, a, zp, B, I, n);
    }
    if (sparse) FN(lists_sum)(lists, ls, c1 - c0, dw + (size_t)(c0 - o0) * I, (size_t)I, a, 0, I8, PAR_LIST_K, 1);
    c0 = c1;
  }
}

/* ============================================================================================
 * linearBackwardInput: da = dz·w (dz: B×O, w: O×I).
 *
 * wasm order: each element a chain over o = 0…O−1. Rows in tiles of 4 (r < B&~3), k < I&~7:
 * madd(dz[r][o], w[o][k], acc). The k tail of those rows (k ≥ I&~7) and every k of the rows
 * past the tiles (r ≥ B&~3): rowTimesColumn, s = s + dz·w, unfused. Zeros of dz may be skipped.
 * Here: groups of up to 4 tiles; a mostly-zero group walks each row's list of nonzero outputs,
 * otherwise each tile takes the dense tile, 4 rows × INP_K vectors of k, over every output.
 * pack: the group's lists, 2·O + 4 floats each (gp_linear_backward_input_pack).
 * ==========================================================================================*/

#if GP_X86
/** the list of row z's (O floats) nonzero entries, offsets o·I; returns its length */
INL uint32_t FN(row_list)(float *list, const float *z, int O, int I) {
  gp_entry *e = FN(list_at)(list);
  uint32_t c = 0;
  const __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(I));
  for (int o = 0; o < O; o += 8) {
    const int m = O - o < 8 ? O - o : 8;
    const __m256 v = m == 8 ? _mm256_loadu_ps(z + o) : Y_LOADN(z + o, m);
    const __m256i offs = _mm256_add_epi32(_mm256_set1_epi32((int)((uint32_t)o * (uint32_t)I)), step);
    c = APPEND8(e, c, v, offs, m);
  }
  *FN(list_len)(list) = c;
  return c;
}
#else
/** the list of row z's (O floats) nonzero entries (not ±0; NaN kept), offsets o·I; returns its length */
INL uint32_t FN(row_list)(float *list, const float *z, int O, int I) {
  gp_entry *e = FN(list_at)(list);
  uint32_t c = 0;
  for (int o = 0; o < O; o++) {
    if (z[o] == 0.0f) continue;
    e[c].off = (uint32_t)o * (uint32_t)I;
    e[c].v = z[o];
    c++;
  }
  *FN(list_len)(list) = c;
  return c;
}
#endif

/** rows i = 0…3 of da at dk (stride I), floats [0, (K−1)·VL + m) = Σ_o dz[i][o]·wk[o·I + …), madd, every o */
INL void FN(inp_tile)(float *dk, const float *z, const float *wk, int I, int O, const int K, int m, const int MASKED) {
  V c[4][8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++)
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) c[i][v] = V_ZERO();
  const float *z1 = z + O, *z2 = z1 + O, *z3 = z2 + O;
  for (int o = 0; o < O; o++) {
    const float *wo = wk + (size_t)o * I;
    V x[8];
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) x[v] = LOADK(wo, v, K, m, MASKED);
    const V s0 = V_BCAST1(z + o), s1 = V_BCAST1(z1 + o), s2 = V_BCAST1(z2 + o), s3 = V_BCAST1(z3 + o);
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) {
      c[0][v] = MADD(s0, x[v], c[0][v]);
      c[1][v] = MADD(s1, x[v], c[1][v]);
      c[2][v] = MADD(s2, x[v], c[2][v]);
      c[3][v] = MADD(s3, x[v], c[3][v]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++)
#pragma GCC unroll 8
    for (int v = 0; v < K; v++) STOREK(dk + (size_t)i * I, v, K, m, MASKED, c[i][v]);
}

ATTR static void FN(linear_backward_input)(float *da, const float *dz, const float *w, int32_t B, int32_t I, int32_t O,
                                           float *pack) {
  if (B <= 0) return;
  const int I8 = I & ~7;
  const size_t ls = 2 * (size_t)O + 4;
  // tiles of 4 rows whose lists the scratch holds at once: a strip of w serves them all from L1
  const int G = gp_input_group(B, I, O);
  int r = 0;
  while (r + 4 <= B) {
    const int rows = (B - r) / 4 < G ? 4 * ((B - r) / 4) : 4 * G;
    const float *z = dz + (size_t)r * O;
    float *d = da + (size_t)r * I;
    size_t nonzero = 0;
    for (int i = 0; i < rows; i++) nonzero += FN(row_list)(pack + i * ls, z + (size_t)i * O, O, I);
    // mostly zero (behind a relu): each row from its list; otherwise dense tiles (same bits)
    if (nonzero * 100 <= (size_t)rows * O * INP_SPARSE_PCT(I, rows)) {
      FN(lists_sum)(pack, ls, rows, d, (size_t)I, w, 0, I8, INP_LIST_K, 1);
    } else {
      for (int t = 0; t < rows; t += 4) {
        const float *zt = z + (size_t)t * O;
        float *dt = d + (size_t)t * I;
#define IT(k, K, m, MASKED) FN(inp_tile)(dt + (k), zt, w + (k), I, O, K, m, MASKED)
        FOR_STRIPS(I8, INP_K, IT);
#undef IT
      }
    }
    // the k tail: wasm's rowTimesColumn, unfused
    if (I8 < I) FN(lists_sum)(pack, ls, rows, d, (size_t)I, w, I8, I, 1, 0);
    r += rows;
  }
  // the rows past the last tile: rowTimesColumn for every k, unfused
  if (r < B) {
    const int n = B - r;
    for (int i = 0; i < n; i++) FN(row_list)(pack + i * ls, dz + (size_t)(r + i) * O, O, I);
    FN(lists_sum)(pack, ls, n, da + (size_t)r * I, (size_t)I, w, 0, I, INP_LIST_K, 0);
  }
}

#undef ATTR
#undef INL
#undef MADD
#undef MADD0
#undef MADDF
#undef LOADK
#undef STOREK
#undef FOR_STRIPS
