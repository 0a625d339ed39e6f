// N-API bindings of the sparse-group kernel (sparse-group-core.h), both synchronous: they run on
// the calling thread (the trainer's and predictor's worker threads each call them on their own),
// touch no global state, and need no OpenBLAS.
//
// sparseGroupBuild(Vp, kp, k, keptFeatures[], centreCodes[]) → { offsets, slots }: the merged index
//   of src/nearest-centres-sparse-group.ts's buildSparseGroupIndex, the same values; slots is a
//   Uint16Array when G·k ≤ 65536, else a Uint32Array.
// sparseGroupAssign(offsets, slots, Vp, kp, k, G, codes, n, out, outStride, outOffset) → the score
//   increments done: assignSparseGroup's assignment; slots of either type.
// Bad arguments throw TypeError (a wrong type) or RangeError (a bad length, shape or id), with
// messages like the JS version's.
#include "sparse-group.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "napi-args.h"
#include "sparse-group-core.h"

using namespace cmbn_napi;

namespace {

template <typename... A>
std::string format(const char *fmt, A... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

napi_value throwRange(napi_env env, const std::string &message) {
  napi_throw_range_error(env, nullptr, message.c_str());
  return nullptr;
}

/** A positive (min 1) or non-negative (min 0) int32 argument, named in the error with its value. */
bool namedInt(napi_env env, napi_value v, const char *name, int32_t min, int32_t max, int32_t *out) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= min) || d > max || d != static_cast<double>(static_cast<int32_t>(d))) {
    const std::string got = napi_get_value_double(env, v, &d) == napi_ok ? format("%.17g", d) : std::string("a non-number");
    throwRange(env, format("%s must be an integer in %d..%d, got %s", name, min, max, got.c_str()));
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

/** slots: a Uint16Array (an index built natively with G·k ≤ 65536) or a Uint32Array. */
bool slotsArg(napi_env env, napi_value v, void **data, size_t *length, bool *wide) {
  bool is = false;
  napi_typedarray_type type;
  if (!check(env, napi_is_typedarray(env, v, &is))) return false;
  if (is && !check(env, napi_get_typedarray_info(env, v, &type, length, data, nullptr, nullptr))) return false;
  if (!is || (type != napi_uint16_array && type != napi_uint32_array)) {
    napi_throw_type_error(env, nullptr, "slots must be a Uint16Array or a Uint32Array");
    return false;
  }
  *wide = type == napi_uint32_array;
  return true;
}

template <typename S>
cmbn_sparse::Failure assignWith(const S *slots, size_t nSlots, const int32_t *offsets, int32_t Vp, int32_t kp, int32_t k, int32_t G, const uint16_t *codes,
                                int32_t n, uint16_t *out, int32_t outStride, int32_t outOffset, uint64_t *accumulations) {
  const cmbn_sparse::IndexView<S> ix{offsets, slots, nSlots, static_cast<uint32_t>(Vp), static_cast<uint32_t>(kp), static_cast<uint32_t>(k), static_cast<uint32_t>(G)};
  // uint16 scores whenever they cannot overflow (a score is at most Vp).
  return Vp <= 65535 ? cmbn_sparse::assign<uint16_t>(ix, codes, n, out, outStride, outOffset, accumulations)
                     : cmbn_sparse::assign<uint32_t>(ix, codes, n, out, outStride, outOffset, accumulations);
}

}  // namespace

napi_value SparseGroupAssign(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value a[11];
  if (!check(env, napi_get_cb_info(env, info, &argc, a, nullptr, nullptr))) return nullptr;
  if (argc != 11) {
    napi_throw_type_error(env, nullptr, "sparseGroupAssign(offsets, slots, Vp, kp, k, G, codes, n, out, outStride, outOffset) takes 11 arguments");
    return nullptr;
  }
  int32_t *offsets;
  void *slots = nullptr;
  uint16_t *codes, *out;
  size_t lOffsets, lSlots, lCodes, lOut;
  int32_t Vp, kp, k, G, n, outStride, outOffset;
  bool wideSlots = false;
  if (!typedArg(env, a[0], napi_int32_array, "offsets must be an Int32Array", &offsets, &lOffsets) ||
      !slotsArg(env, a[1], &slots, &lSlots, &wideSlots) ||
      !namedInt(env, a[2], "Vp", 1, INT32_MAX, &Vp) || !namedInt(env, a[3], "kp", 1, INT32_MAX, &kp) ||
      !namedInt(env, a[4], "k", 1, 65536, &k) || !namedInt(env, a[5], "G", 1, INT32_MAX, &G) ||
      !typedArg(env, a[6], napi_uint16_array, "codes must be a Uint16Array", &codes, &lCodes) ||
      !namedInt(env, a[7], "n", 0, INT32_MAX, &n) ||
      !typedArg(env, a[8], napi_uint16_array, "out must be a Uint16Array", &out, &lOut) ||
      !namedInt(env, a[9], "outStride", 0, INT32_MAX, &outStride) || !namedInt(env, a[10], "outOffset", 0, INT32_MAX, &outOffset))
    return nullptr;
  // size_t products of int32 values: no overflow on a 64-bit build.
  const size_t nf = static_cast<size_t>(Vp) * kp, GK = static_cast<size_t>(G) * k;
  if (lOffsets != nf + 1) return throwRange(env, format("offsets has %zu values, need Vp*kp + 1 = %zu", lOffsets, nf + 1));
  if (nf + 1 > static_cast<size_t>(INT32_MAX)) return throwRange(env, format("Vp*kp = %zu is too large", nf));
  if (GK > static_cast<size_t>(INT32_MAX)) return throwRange(env, format("G*k = %zu is too large", GK));
  if (lCodes < static_cast<size_t>(n) * Vp) return throwRange(env, format("codes has %zu values, need n*Vp = %zu", lCodes, static_cast<size_t>(n) * Vp));
  if (n > 0 && static_cast<size_t>(n - 1) * outStride + outOffset + G - 1 >= lOut) {
    return throwRange(env, format("out (length %zu) too short for stride %d, offset %d, %d clusterings, n %d", lOut, outStride, outOffset, G, n));
  }
  uint64_t accumulations = 0;
  const cmbn_sparse::Failure f = wideSlots ? assignWith(static_cast<const uint32_t *>(slots), lSlots, offsets, Vp, kp, k, G, codes, n, out, outStride, outOffset, &accumulations)
                                           : assignWith(static_cast<const uint16_t *>(slots), lSlots, offsets, Vp, kp, k, G, codes, n, out, outStride, outOffset, &accumulations);
  switch (f.what) {
    case cmbn_sparse::Fail::none:
      break;
    case cmbn_sparse::Fail::badCode:
      return throwRange(env, format("codes[%zu] = %llu is not < kp = %d", f.at, static_cast<unsigned long long>(f.value), kp));
    case cmbn_sparse::Fail::badRange:
      return throwRange(env, format("offsets[%zu..%zu] is not a range within the %zu slots", f.at, f.at + 1, lSlots));
    case cmbn_sparse::Fail::badSlot:
      return throwRange(env, format("slots[%zu] = %llu is not < G*k = %zu", f.at, static_cast<unsigned long long>(f.value), GK));
    case cmbn_sparse::Fail::noMemory:
      napi_throw_error(env, nullptr, "out of memory for the score buffer");
      return nullptr;
    default:
      napi_throw_error(env, nullptr, "sparseGroupAssign failed");
      return nullptr;
  }
  napi_value result;
  if (!check(env, napi_create_double(env, static_cast<double>(accumulations), &result))) return nullptr;
  return result;
}

napi_value SparseGroupBuild(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  if (!check(env, napi_get_cb_info(env, info, &argc, a, nullptr, nullptr))) return nullptr;
  if (argc != 5) {
    napi_throw_type_error(env, nullptr, "sparseGroupBuild(Vp, kp, k, keptFeatures, centreCodes) takes 5 arguments");
    return nullptr;
  }
  int32_t Vp, kp, k;
  if (!namedInt(env, a[0], "Vp", 1, INT32_MAX, &Vp) || !namedInt(env, a[1], "kp", 1, INT32_MAX, &kp) || !namedInt(env, a[2], "k", 1, 65536, &k))
    return nullptr;
  uint32_t G = 0, G2 = 0;
  bool isArray = false, isArray2 = false;
  if (!check(env, napi_is_array(env, a[3], &isArray)) || !check(env, napi_is_array(env, a[4], &isArray2))) return nullptr;
  if (!isArray || !isArray2) {
    napi_throw_type_error(env, nullptr, "keptFeatures and centreCodes must be arrays");
    return nullptr;
  }
  if (!check(env, napi_get_array_length(env, a[3], &G)) || !check(env, napi_get_array_length(env, a[4], &G2))) return nullptr;
  if (G != G2) return throwRange(env, format("keptFeatures has %u clusterings, centreCodes %u", G, G2));
  if (G < 1) return throwRange(env, "need at least one clustering");
  const size_t nf = static_cast<size_t>(Vp) * kp;
  if (nf + 1 > static_cast<size_t>(INT32_MAX)) return throwRange(env, format("Vp*kp = %zu is too large", nf));
  if (static_cast<size_t>(G) * k > static_cast<size_t>(INT32_MAX)) return throwRange(env, format("G*k = %zu is too large", static_cast<size_t>(G) * k));
  std::vector<cmbn_sparse::ClusteringView> cl(G);
  for (uint32_t g = 0; g < G; g++) {
    napi_value kv, cv;
    if (!check(env, napi_get_element(env, a[3], g, &kv)) || !check(env, napi_get_element(env, a[4], g, &cv))) return nullptr;
    uint32_t *kept;
    uint16_t *cc;
    size_t lk, lc;
    if (!typedArg(env, kv, napi_uint32_array, "keptFeatures[g] must be a Uint32Array", &kept, &lk) ||
        !typedArg(env, cv, napi_uint16_array, "centreCodes[g] must be a Uint16Array", &cc, &lc))
      return nullptr;
    if (lc < static_cast<size_t>(k) * Vp) return throwRange(env, format("centreCodes has %zu values, need k*Vp = %zu", lc, static_cast<size_t>(k) * Vp));
    cl[g] = {kept, lk, cc};
  }
  // The outputs are ArrayBuffers of their own, so nothing else can write them mid-build.
  napi_value offsetsBuf, offsetsArr, slotsBuf, slotsArr;
  void *od = nullptr, *sd = nullptr;
  if (!check(env, napi_create_arraybuffer(env, (nf + 1) * sizeof(int32_t), &od, &offsetsBuf))) return nullptr;
  int32_t *offsets = static_cast<int32_t *>(od);
  std::memset(offsets, 0, (nf + 1) * sizeof(int32_t));
  uint64_t *kept = static_cast<uint64_t *>(std::calloc(cmbn_sparse::keptWords(nf) * G, sizeof(uint64_t)));
  if (!kept) {
    napi_throw_error(env, nullptr, "out of memory for the index build");
    return nullptr;
  }
  size_t nSlots = 0;
  cmbn_sparse::Failure f = cmbn_sparse::markKept(cl.data(), G, nf, kept);
  if (f.what == cmbn_sparse::Fail::none) f = cmbn_sparse::indexPass<uint32_t>(Vp, kp, k, cl.data(), G, kept, offsets, nullptr, nullptr, &nSlots);
  int32_t *cursor = nullptr;
  // Slots are g·k + j < G·k: two bytes each when that fits, half the memory the walks stream.
  const bool wide = static_cast<size_t>(G) * k > 65536;
  const size_t slotBytes = wide ? sizeof(uint32_t) : sizeof(uint16_t);
  if (f.what == cmbn_sparse::Fail::none && !check(env, napi_create_arraybuffer(env, nSlots * slotBytes, &sd, &slotsBuf))) {
    std::free(kept);
    return nullptr;
  }
  // No slots: the count pass has checked everything already.
  if (f.what == cmbn_sparse::Fail::none && nSlots > 0) {
    cursor = static_cast<int32_t *>(std::malloc(nf * sizeof(int32_t)));
    if (!cursor) {
      std::free(kept);
      napi_throw_error(env, nullptr, "out of memory for the index build");
      return nullptr;
    }
    std::memcpy(cursor, offsets, nf * sizeof(int32_t));
    f = wide ? cmbn_sparse::indexPass(Vp, kp, k, cl.data(), G, kept, offsets, static_cast<uint32_t *>(sd), cursor, &nSlots)
             : cmbn_sparse::indexPass(Vp, kp, k, cl.data(), G, kept, offsets, static_cast<uint16_t *>(sd), cursor, &nSlots);
  }
  std::free(kept);
  std::free(cursor);
  switch (f.what) {
    case cmbn_sparse::Fail::none:
      break;
    case cmbn_sparse::Fail::badKept:
      return throwRange(env, format("kept feature %llu out of range 0..%zu", static_cast<unsigned long long>(f.value), nf - 1));
    case cmbn_sparse::Fail::badCentreCode:
      return throwRange(env, format("centreCodes[%zu] = %llu is not < kp = %d", f.at, static_cast<unsigned long long>(f.value), kp));
    case cmbn_sparse::Fail::tooManySlots:
      return throwRange(env, format("the index would hold %llu slots, more than an Int32Array offset reaches", static_cast<unsigned long long>(f.value)));
    default:
      napi_throw_error(env, nullptr, "sparseGroupBuild failed");
      return nullptr;
  }
  napi_value result;
  if (!check(env, napi_create_typedarray(env, napi_int32_array, nf + 1, offsetsBuf, 0, &offsetsArr)) ||
      !check(env, napi_create_typedarray(env, wide ? napi_uint32_array : napi_uint16_array, nSlots, slotsBuf, 0, &slotsArr)) || !check(env, napi_create_object(env, &result)) ||
      !check(env, napi_set_named_property(env, result, "offsets", offsetsArr)) || !check(env, napi_set_named_property(env, result, "slots", slotsArr)))
    return nullptr;
  return result;
}
