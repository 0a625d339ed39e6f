// OpenBLAS for the dense nearest-centre kernel, through plain N-API (node-addon-api is not installed).
// The same addon carries the sparse layers' kernel (sparseGroupBuild, sparseGroupAssign: see
// sparse-group.cc), which needs no BLAS, so that one build serves both.
//
// sgemm: cblas_sgemm in place on the caller's Float32Arrays, row-major.
// topK / topKAsync: S = X·Ct − h in float32 (the same Sub rounding as the ORT graph), then the top K
// of each row, best first, strict '>' so that among equal scores the lower index comes first (as
// js-reference-backend.ts). Rows go through sgemm in chunks of `chunkRows` and columns in tiles of
// `colTile`, so the chunk×tile score block stays in cache for the scan and never reaches JS.
// abi(): 2 since topK takes colTile; blas-backend.ts refuses an older build (rebuild it).
//
// Threads: OpenBLAS is set to 1 thread at load (openblas_set_num_threads is process-wide), so every
// call runs entirely on the thread that makes it. Concurrent calls from several worker_threads or
// libuv pool threads are then independent: each has its own score buffer, and OpenBLAS's pthread
// build takes its packing buffers from a locked pool. Parallelism is the caller's: topKAsync on
// disjoint row ranges runs them side by side on the libuv pool.
#include <node_api.h>
#include <cblas.h>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include "napi-args.h"
#include "sparse-group.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
}

namespace {

const int kMaxK = 64;

using namespace cmbn_napi;

// sgemm(transA, transB, m, n, k, alpha, A, B, beta, C): C = alpha·op(A)·op(B) + beta·C, row-major, tight strides.
napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value a[10];
  if (!check(env, napi_get_cb_info(env, info, &argc, a, nullptr, nullptr))) return nullptr;
  if (argc != 10) {
    napi_throw_type_error(env, nullptr, "sgemm(transA, transB, m, n, k, alpha, A, B, beta, C) takes 10 arguments");
    return nullptr;
  }
  bool ta = false, tb = false;
  int32_t m, n, k;
  double alpha, beta;
  float *A, *B, *C;
  size_t la, lb, lc;
  if (!check(env, napi_get_value_bool(env, a[0], &ta)) || !check(env, napi_get_value_bool(env, a[1], &tb))) return nullptr;
  if (!intArg(env, a[2], "m must be a non-negative int32", 0, &m) || !intArg(env, a[3], "n must be a non-negative int32", 0, &n) ||
      !intArg(env, a[4], "k must be a non-negative int32", 0, &k))
    return nullptr;
  if (!check(env, napi_get_value_double(env, a[5], &alpha)) || !check(env, napi_get_value_double(env, a[8], &beta))) return nullptr;
  if (!typedArg(env, a[6], napi_float32_array, "A must be a Float32Array", &A, &la) ||
      !typedArg(env, a[7], napi_float32_array, "B must be a Float32Array", &B, &lb) ||
      !typedArg(env, a[9], napi_float32_array, "C must be a Float32Array", &C, &lc))
    return nullptr;
  const size_t M = m, N = n, K = k;
  if (la < M * K) return rangeError(env, "A is shorter than m*k"), nullptr;
  if (lb < K * N) return rangeError(env, "B is shorter than k*n"), nullptr;
  if (lc < M * N) return rangeError(env, "C is shorter than m*n"), nullptr;
  if (m == 0 || n == 0) return nullptr;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, static_cast<float>(alpha), A,
              ta ? m : (k > 0 ? k : 1), B, tb ? (k > 0 ? k : 1) : n, static_cast<float>(beta), C, n);
  return nullptr;
}

struct TopKJob {
  const float *x, *ct, *h;
  float *values;
  int32_t *indices;
  int32_t n, d, k, K, chunkRows, colTile;
  bool failed = false;  // out of memory for the score buffer
  // async only
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref refs[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
};

// Puts (v, j) into the descending list bv/bi at slot p or above, shifting the smaller ones down; a tie
// stays below the earlier index, so ties go to the lowest index. Slot p is free or being dropped.
inline void insertFrom(float *bv, int32_t *bi, size_t p, float v, int32_t j) {
  while (p > 0 && v > bv[p - 1]) {
    bv[p] = bv[p - 1];
    bi[p] = bi[p - 1];
    p--;
  }
  bv[p] = v;
  bi[p] = j;
}

void runTopK(TopKJob *job) {
  const size_t k = job->k, K = job->K, d = job->d;
  // No more rows than the call has: a one-point predict should not allocate a whole chunk of scores.
  const size_t chunk = std::min<size_t>(job->chunkRows, job->n > 0 ? job->n : 1);
  // Columns per sgemm: a chunk×tile score block, so a large k does not force thin row chunks (each
  // sgemm packs its whole column range of ct, which at k = 35000 is 55 MB for 64 rows). At least K
  // columns, so the first tile fills every row's list.
  const size_t tile = std::max<size_t>(K, std::min<size_t>(job->colTile, k));
  float *s = static_cast<float *>(std::malloc(chunk * tile * sizeof(float)));
  float *bvs = static_cast<float *>(std::malloc(chunk * K * sizeof(float)));
  int32_t *bis = static_cast<int32_t *>(std::malloc(chunk * K * sizeof(int32_t)));
  if (!s || !bvs || !bis) {
    std::free(s);
    std::free(bvs);
    std::free(bis);
    job->failed = true;
    return;
  }
  for (size_t r0 = 0; r0 < static_cast<size_t>(job->n); r0 += chunk) {
    const size_t nb = r0 + chunk <= static_cast<size_t>(job->n) ? chunk : job->n - r0;
    // Tiles in ascending column order, each row's list carried across them: the same scan, score by
    // score in index order, as one pass over the whole row (so ties still go to the lowest index).
    for (size_t j0 = 0; j0 < k; j0 += tile) {
      const size_t kt = std::min(tile, k - j0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(nb), static_cast<int>(kt), job->d, 1.0f, job->x + r0 * d,
                  job->d, job->ct + j0, job->k, 0.0f, s, static_cast<int>(kt));
      const float *h = job->h + j0;
      for (size_t b = 0; b < nb; b++) {
        const float *row = s + b * kt;
        float *bv = bvs + b * K;
        int32_t *bi = bis + b * K;
        size_t t = 0;
        if (j0 == 0) {
          // The first K scores fill the list by insertion (kt >= K), then a score enters only if it beats the K-th.
          for (; t < K; t++) insertFrom(bv, bi, t, row[t] - h[t], static_cast<int32_t>(t));
        }
        float worst = bv[K - 1];
        for (; t < kt; t++) {
          const float v = row[t] - h[t];
          if (!(v > worst)) continue;
          insertFrom(bv, bi, K - 1, v, static_cast<int32_t>(j0 + t));
          worst = bv[K - 1];
        }
      }
    }
    std::memcpy(job->values + r0 * K, bvs, nb * K * sizeof(float));
    std::memcpy(job->indices + r0 * K, bis, nb * K * sizeof(int32_t));
  }
  std::free(s);
  std::free(bvs);
  std::free(bis);
}

// Parses topK(x, n, d, ct, h, k, K, values, indices, chunkRows, colTile); throws and returns false on bad arguments.
bool parseTopK(napi_env env, napi_callback_info info, TopKJob *job, napi_value *arrays) {
  size_t argc = 11;
  napi_value a[11];
  if (!check(env, napi_get_cb_info(env, info, &argc, a, nullptr, nullptr))) return false;
  if (argc != 11) {
    napi_throw_type_error(env, nullptr, "topK(x, n, d, ct, h, k, K, values, indices, chunkRows, colTile) takes 11 arguments");
    return false;
  }
  size_t lx, lct, lh, lv, li;
  float *x, *ct, *h;
  if (!typedArg(env, a[0], napi_float32_array, "x must be a Float32Array", &x, &lx) ||
      !intArg(env, a[1], "n must be a non-negative int32", 0, &job->n) || !intArg(env, a[2], "d must be a positive int32", 1, &job->d) ||
      !typedArg(env, a[3], napi_float32_array, "ct must be a Float32Array", &ct, &lct) ||
      !typedArg(env, a[4], napi_float32_array, "h must be a Float32Array", &h, &lh) ||
      !intArg(env, a[5], "k must be a positive int32", 1, &job->k) || !intArg(env, a[6], "K must be a positive int32", 1, &job->K) ||
      !typedArg(env, a[7], napi_float32_array, "values must be a Float32Array", &job->values, &lv) ||
      !typedArg(env, a[8], napi_int32_array, "indices must be an Int32Array", &job->indices, &li) ||
      !intArg(env, a[9], "chunkRows must be a positive int32", 1, &job->chunkRows) ||
      !intArg(env, a[10], "colTile must be a positive int32", 1, &job->colTile))
    return false;
  job->x = x;
  job->ct = ct;
  job->h = h;
  const size_t n = job->n, d = job->d, k = job->k, K = job->K;
  if (K > static_cast<size_t>(kMaxK) || K > k) return rangeError(env, "K must be at most min(k, 64)");
  if (lx < n * d) return rangeError(env, "x is shorter than n*d");
  if (lct != d * k) return rangeError(env, "ct must have d*k values");
  if (lh != k) return rangeError(env, "h must have k values");
  if (lv < n * K || li < n * K) return rangeError(env, "values and indices need n*K entries");
  if (static_cast<size_t>(job->chunkRows) * std::min<size_t>(std::max<size_t>(job->colTile, K), k) > (static_cast<size_t>(1) << 31))
    return rangeError(env, "chunkRows*colTile is too large");
  if (arrays) {
    arrays[0] = a[0];
    arrays[1] = a[3];
    arrays[2] = a[4];
    arrays[3] = a[7];
    arrays[4] = a[8];
  }
  return true;
}

napi_value TopKSync(napi_env env, napi_callback_info info) {
  TopKJob job;
  if (!parseTopK(env, info, &job, nullptr)) return nullptr;
  if (job.n > 0) runTopK(&job);
  if (job.failed) napi_throw_error(env, nullptr, "out of memory for the score buffer");
  return nullptr;
}

void ExecuteTopK(napi_env, void *data) {
  TopKJob *job = static_cast<TopKJob *>(data);
  if (job->n > 0) runTopK(job);
}

void CompleteTopK(napi_env env, napi_status status, void *data) {
  TopKJob *job = static_cast<TopKJob *>(data);
  for (napi_ref &r : job->refs)
    if (r) napi_delete_reference(env, r);
  napi_value result;
  if (status == napi_ok && !job->failed) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, job->failed ? "out of memory for the score buffer" : "topKAsync was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  delete job;
}

// topKAsync(...same arguments...): Promise<void>, the work on a libuv pool thread. The typed arrays are
// held by references until it settles; the caller must not write x, ct, h or read the outputs meanwhile.
napi_value TopKAsync(napi_env env, napi_callback_info info) {
  TopKJob *job = new TopKJob();
  napi_value arrays[5];
  if (!parseTopK(env, info, job, arrays)) {
    delete job;
    return nullptr;
  }
  napi_value promise, name;
  bool ok = check(env, napi_create_promise(env, &job->deferred, &promise));
  for (int t = 0; ok && t < 5; t++) ok = check(env, napi_create_reference(env, arrays[t], 1, &job->refs[t]));
  ok = ok && check(env, napi_create_string_utf8(env, "cmbn-blas:topK", NAPI_AUTO_LENGTH, &name));
  ok = ok && check(env, napi_create_async_work(env, nullptr, name, ExecuteTopK, CompleteTopK, job, &job->work));
  ok = ok && check(env, napi_queue_async_work(env, job->work));
  if (!ok) {
    // Nothing was queued (queueing is the last step), so nothing else will free the job.
    for (napi_ref &r : job->refs)
      if (r) napi_delete_reference(env, r);
    if (job->work) napi_delete_async_work(env, job->work);
    // The exception check() threw is what the caller sees; the promise was never returned, so it is
    // left unsettled (rejecting it would be refused while that exception is pending) and collected.
    delete job;
    return nullptr;
  }
  return promise;
}

napi_value Abi(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, 2, &v);
  return v;
}

napi_value Config(napi_env env, napi_callback_info) {
  napi_value s;
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s);
  return s;
}

napi_value NumThreads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, openblas_get_num_threads(), &v);
  return v;
}

}  // namespace

NAPI_MODULE_INIT() {
  // Every call runs on its caller's thread; see the header comment. Idempotent, so each worker
  // thread that loads the addon may repeat it.
  openblas_set_num_threads(1);
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"sgemm", Sgemm}, {"topK", TopKSync}, {"topKAsync", TopKAsync}, {"config", Config}, {"numThreads", NumThreads}, {"abi", Abi},
               {"sparseGroupAssign", SparseGroupAssign}, {"sparseGroupBuild", SparseGroupBuild}};
  for (const auto &f : fns) {
    napi_value v;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v) != napi_ok ||
        napi_set_named_property(env, exports, f.name, v) != napi_ok)
      return nullptr;
  }
  return exports;
}
