// The sparse-group kernel without N-API (sparse-group.cc binds it): the merged inverted index of G
// clusterings and the assignment of points to each clustering's nearest centre, exactly as
// src/nearest-centres-sparse-group.ts computes them (see that file for the maths). Integer work, so
// "exactly" is about the tie rules: max shared kept features, ties → lowest centre, centre 0 when
// nothing matches.
//
// Safety: every index read is checked (a code id against kp, a list range against the slot
// count, a slot against G·k), so a malformed argument fails with a Failure instead of reading or
// writing out of bounds, even when another thread rewrites a shared buffer mid-call.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cmbn_sparse {

enum class Fail { none, badCode, badRange, badSlot, badKept, badCentreCode, tooManySlots, noMemory };

struct Failure {
  Fail what = Fail::none;
  size_t at = 0;     // the offending element's index (codes, offsets, slots, keptFeatures or centreCodes)
  uint64_t value = 0;  // its value
  uint32_t group = 0;  // the clustering, for the index build's failures
};

/** S: uint16_t when G·k ≤ 65536 (what sparseGroupSize picks), else uint32_t. */
template <typename S>
struct IndexView {
  const int32_t *offsets;  // Vp*kp + 1 entries (checked by the caller)
  const S *slots;
  size_t nSlots;
  uint32_t Vp, kp, k, G;
};

/**
 * Bytes of scores a block of points keeps live. Scores are uint16 (a slot gains at most 1 per
 * previous clustering u, so a score is ≤ Vp), twice as many per byte as the JS Int32Array; 256 KB
 * is the JS version's budget, about a Zen 4 or Skylake-SP L2 quarter, so the block's scores stay
 * in L2 beside the lists being walked.
 */
constexpr size_t kScoreBudgetBytes = 256 * 1024;
constexpr size_t kMaxBlock = 128;
/**
 * How many previous clusterings u ahead the lookups prefetch their list ranges (offsets of
 * (u, code)). At large kp the offsets (Vp·kp int32: 2.3 MB at MNIST-70k's layer 2) miss every
 * cache, and a block of few rows (7 at layer 2, the score budget) gives those misses little to
 * overlap with: perf put half of layer 2's assignment on that one load. The codes of u+4 are
 * already in L1, so the prefetch costs one load and a compare per lookup (bench:sparse-native:
 * the assignment 1.24× faster at layer 2 and 1.22× at layer 3 on real codes, the others unchanged).
 */
constexpr size_t kOffsetsAhead = 4;
/**
 * The replay costs a few dependent loads and a branch per list entry, the scan (SIMD max, then
 * SIMD search for its first position) a fraction of a cycle per score: replay only when the
 * entries are this many times fewer than the G·k scores. Either gives the same ids.
 */
constexpr uint64_t kReplayRatio = 16;

/** s / k for every 32-bit s without a division (Lemire, Kaser, Kurz 2019: M = ⌊(2^64−1)/k⌋ + 1, k ≥ 2). */
struct DivideBy {
  uint64_t m;
  uint32_t k;
  explicit DivideBy(uint32_t d) : m(d > 1 ? UINT64_MAX / d + 1 : 0), k(d) {}
  uint32_t operator()(uint32_t s) const {
    return k == 1 ? s : static_cast<uint32_t>((static_cast<unsigned __int128>(m) * s) >> 64);
  }
};

template <typename T>
T maxOf(const T *row, size_t k) {
  // A plain reduction: GCC/Clang vectorise it at -O3 on any target.
  T m = 0;
  for (size_t j = 0; j < k; j++) m = row[j] > m ? row[j] : m;
  return m;
}

/** The first j with row[j] == m (there is one: m is the row's max). */
inline size_t firstEqual(const uint16_t *row, size_t k, uint16_t m) {
  size_t j = 0;
#if defined(__SSE2__)
  const __m128i want = _mm_set1_epi16(static_cast<short>(m));
  for (; j + 8 <= k; j += 8) {
    const int mask = _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(row + j)), want));
    if (mask) return j + (static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(mask))) >> 1);
  }
#endif
  while (row[j] != m) j++;
  return j;
}

inline size_t firstEqual(const uint32_t *row, size_t k, uint32_t m) {
  (void)k;
  size_t j = 0;
  while (row[j] != m) j++;
  return j;
}

/**
 * Assigns rows 0..n-1 of codes (n × Vp) to each clustering's nearest centre: clustering g's answer
 * for row i goes to out[i*outStride + outOffset + g]; the caller has checked that out and codes
 * are long enough. Adds the score increments done to *accumulations.
 */
template <typename T, typename S>
Failure assign(const IndexView<S> &ix, const uint16_t *codes, size_t n, uint16_t *out, size_t outStride, size_t outOffset,
               uint64_t *accumulations) {
  Failure fail;
  const size_t Vp = ix.Vp, kp = ix.kp, k = ix.k, G = ix.G, GK = G * k;
  const uint32_t gk32 = static_cast<uint32_t>(GK);
  const size_t B = std::min({kMaxBlock, std::max<size_t>(1, kScoreBudgetBytes / (GK * sizeof(T))), n > 0 ? n : 1});
  T *scores = static_cast<T *>(std::calloc(B * GK, sizeof(T)));
  // The list range each (row of the block, u) walks, kept for the replay: rs/re[b*Vp + u].
  int32_t *rs = static_cast<int32_t *>(std::malloc(B * Vp * sizeof(int32_t)));
  int32_t *re = static_cast<int32_t *>(std::malloc(B * Vp * sizeof(int32_t)));
  uint32_t *best = static_cast<uint32_t *>(std::malloc(G * 2 * sizeof(uint32_t)));
  if (!scores || !rs || !re || !best) {
    fail.what = Fail::noMemory;
  } else {
    uint32_t *bestS = best, *bestSlot = best + G;
    const DivideBy groupOf(ix.k);
    const int32_t *offsets = ix.offsets;
    const S *slots = ix.slots;
    const int64_t nSlots = static_cast<int64_t>(ix.nSlots);
    uint64_t acc = 0;
    for (size_t i0 = 0; i0 < n; i0 += B) {
      const size_t nb = std::min(B, n - i0);
      // u outer, rows inner: the offsets and lists of one u are a small contiguous region the
      // block's rows share. The lookups of u+1 (independent loads, no list walk's branch between
      // them) run a step ahead of the walks of u, and prefetch every line of the lists they find,
      // so the walks read cached slots: the walk is bound by the slots' memory latency otherwise.
      for (size_t u = 0; u <= Vp; u++) {
        if (u < Vp) {
          const uint16_t *cu = codes + i0 * Vp + u;
          const size_t fu = u * kp;
          for (size_t b = 0; b < nb; b++) {
            const uint32_t id = cu[b * Vp];
            if (id >= kp) {
              fail = {Fail::badCode, (i0 + b) * Vp + u, id, 0};
              goto done;
            }
            const size_t f = fu + id;
            const int32_t start = offsets[f], end = offsets[f + 1];
            if (start < 0 || start > end || end > nSlots) {
              fail = {Fail::badRange, f, static_cast<uint64_t>(static_cast<uint32_t>(start)), 0};
              goto done;
            }
            rs[b * Vp + u] = start;
            re[b * Vp + u] = end;
            if (u + kOffsetsAhead < Vp) {
              // Read, not trusted: a bad code is refused when its own turn comes.
              const uint32_t ahead = cu[b * Vp + kOffsetsAhead];
              if (ahead < kp) __builtin_prefetch(offsets + fu + kOffsetsAhead * kp + ahead);
            }
            for (int32_t p = start; p < end; p += 64 / sizeof(S)) __builtin_prefetch(slots + p);
            if (start < end) __builtin_prefetch(slots + end - 1);
          }
        }
        if (u == 0) continue;
        const size_t w = u - 1;
        for (size_t b = 0; b < nb; b++) {
          T *sc = scores + b * GK;
          const int32_t end = re[b * Vp + w];
          for (int32_t p = rs[b * Vp + w]; p < end; p++) {
            const uint32_t s = slots[p];
            if (s >= gk32) {
              fail = {Fail::badSlot, static_cast<size_t>(p), s, 0};
              goto done;
            }
            sc[s]++;
          }
        }
      }
      for (size_t b = 0; b < nb; b++) {
        T *sc = scores + b * GK;
        const int32_t *rb = rs + b * Vp, *eb = re + b * Vp;
        uint64_t total = 0;
        for (size_t u = 0; u < Vp; u++) total += static_cast<uint64_t>(eb[u] - rb[u]);
        acc += total;
        uint16_t *row = out + (i0 + b) * outStride + outOffset;
        if (total * kReplayRatio < GK) {
          // Replay: only touched scores can be > 0. A slot seen again after being zeroed reads 0,
          // which never beats a best that its first visit already made ≥ 1.
          for (size_t g = 0; g < G; g++) {
            bestS[g] = 0;
            bestSlot[g] = static_cast<uint32_t>(g * k);
          }
          for (size_t u = 0; u < Vp; u++) {
            const int32_t end = eb[u];
            for (int32_t p = rb[u]; p < end; p++) {
              const uint32_t s = slots[p];
              // Checked again: a shared buffer may have changed since the walk.
              if (s >= gk32) {
                fail = {Fail::badSlot, static_cast<size_t>(p), s, 0};
                goto done;
              }
              const uint32_t v = sc[s];
              if (v == 0) continue;
              sc[s] = 0;
              const uint32_t g = groupOf(s);
              if (v > bestS[g] || (v == bestS[g] && s < bestSlot[g])) {
                bestS[g] = v;
                bestSlot[g] = s;
              }
            }
          }
          for (size_t g = 0; g < G; g++) row[g] = static_cast<uint16_t>(bestSlot[g] - g * k);
        } else {
          // Scan: the first position of each clustering's max (ties → lowest j; all zero → 0).
          for (size_t g = 0; g < G; g++) {
            const T *sg = sc + g * k;
            row[g] = static_cast<uint16_t>(firstEqual(sg, k, maxOf(sg, k)));
          }
          std::memset(sc, 0, GK * sizeof(T));
        }
      }
    }
    *accumulations += acc;
  }
done:
  std::free(scores);
  std::free(rs);
  std::free(re);
  std::free(best);
  return fail;
}

/** One clustering of a group to index: its kept features and its k × Vp centre codes. */
struct ClusteringView {
  const uint32_t *kept;
  size_t nKept;
  const uint16_t *centreCodes;  // at least k*Vp values (checked by the caller)
};

/** Words of one clustering's kept-feature bitset. */
inline size_t keptWords(size_t nf) { return (nf + 63) / 64; }

/** Sets bit f of clustering g's bitset (bits + g·keptWords(nf)) for each of its kept features; bits start zero. */
inline Failure markKept(const ClusteringView *cl, uint32_t G, size_t nf, uint64_t *bits) {
  const size_t words = keptWords(nf);
  for (uint32_t g = 0; g < G; g++) {
    uint64_t *bg = bits + g * words;
    for (size_t t = 0; t < cl[g].nKept; t++) {
      const uint32_t f = cl[g].kept[t];
      if (f >= nf) return {Fail::badKept, t, f, g};
      bg[f >> 6] |= uint64_t{1} << (f & 63);
    }
  }
  return {};
}

/** Previous clusterings u per chunk of the build: a chunk's centre codes are one cache line per centre. */
constexpr uint32_t kBuildChunk = 32;

/**
 * One pass of the index build. Pass 0 (slots == nullptr) counts into offsets[f+1] (nf+1 zeros on
 * entry, their prefix sums on return, the total in *nSlots); pass 1 writes the slots through
 * cursor (a copy of offsets[0..nf)). Within a chunk of u, g then j ascending outside u keeps every
 * list sorted by slot, as the JS build's g, j, u order does; the chunk keeps the counters, kept
 * bits and lists it touches cache-sized, where the JS order jumps kp features per step of u.
 */
template <typename S>
Failure indexPass(uint32_t Vp, uint32_t kp, uint32_t k, const ClusteringView *cl, uint32_t G, const uint64_t *bits, int32_t *offsets, S *slots,
                  int32_t *cursor, size_t *nSlots) {
  const size_t nf = static_cast<size_t>(Vp) * kp, words = keptWords(nf);
  for (uint32_t u0 = 0; u0 < Vp; u0 += kBuildChunk) {
    const uint32_t u1 = std::min(Vp, u0 + kBuildChunk);
    for (uint32_t g = 0; g < G; g++) {
      const uint64_t *bg = bits + g * words;
      const uint32_t base = g * k;
      for (uint32_t j = 0; j < k; j++) {
        const uint16_t *cj = cl[g].centreCodes + static_cast<size_t>(j) * Vp;
        for (uint32_t u = u0; u < u1; u++) {
          const uint32_t id = cj[u];
          if (id >= kp) return {Fail::badCentreCode, static_cast<size_t>(j) * Vp + u, id, g};
          const size_t f = static_cast<size_t>(u) * kp + id;
          // Branch-free: about half the features are kept, so a branch on it would mispredict
          // every other time.
          const int32_t bit = static_cast<int32_t>((bg[f >> 6] >> (f & 63)) & 1);
          if (!slots) {
            offsets[f + 1] += bit;
          } else {
            // Bounded by the count pass's list end: centre codes rewritten between the passes (a
            // shared buffer) must not push a list past its end.
            if (cursor[f] + bit > offsets[f + 1]) return {Fail::badCentreCode, static_cast<size_t>(j) * Vp + u, id, g};
            S sink;
            *(bit ? slots + cursor[f] : &sink) = static_cast<S>(base + j);
            cursor[f] += bit;
          }
        }
      }
    }
  }
  if (!slots) {
    // Each count fits int32 (≤ G·k) but their sum may not.
    int64_t sum = 0;
    for (size_t f = 0; f < nf; f++) {
      sum += offsets[f + 1];
      if (sum > INT32_MAX) return {Fail::tooManySlots, f, static_cast<uint64_t>(sum), 0};
      offsets[f + 1] = static_cast<int32_t>(sum);
    }
    *nSlots = static_cast<size_t>(sum);
  }
  return {};
}

}  // namespace cmbn_sparse
