// Argument helpers shared by the addon's bindings (cmbn-blas.cc, sparse-group.cc): each throws the
// JS error itself and returns false, so a binding just returns nullptr.
#pragma once
#include <node_api.h>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cmbn_napi {

inline bool check(napi_env env, napi_status status) {
  if (status == napi_ok) return true;
  const napi_extended_error_info *info = nullptr;
  napi_get_last_error_info(env, &info);
  // Copied first: the next N-API call overwrites the last-error record the pointer lives in.
  const std::string message = info && info->error_message ? info->error_message : "N-API call failed";
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, nullptr, message.c_str());
  return false;
}

template <typename T>
bool typedArg(napi_env env, napi_value v, napi_typedarray_type want, const char *what, T **data, size_t *length) {
  bool is = false;
  if (!check(env, napi_is_typedarray(env, v, &is))) return false;
  napi_typedarray_type type;
  void *ptr = nullptr;
  if (is && !check(env, napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr))) return false;
  if (!is || type != want) {
    napi_throw_type_error(env, nullptr, what);
    return false;
  }
  *data = static_cast<T *>(ptr);
  return true;
}

inline bool intArg(napi_env env, napi_value v, const char *what, int32_t min, int32_t *out) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= min) || d > 2147483647.0 || d != static_cast<double>(static_cast<int32_t>(d))) {
    napi_throw_range_error(env, nullptr, what);
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

inline bool rangeError(napi_env env, const char *what) {
  napi_throw_range_error(env, nullptr, what);
  return false;
}

}  // namespace cmbn_napi
