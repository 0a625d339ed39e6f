// The sparse-group kernel's bindings (sparse-group.cc), registered by cmbn-blas.cc's module init.
#pragma once
#include <node_api.h>

napi_value SparseGroupAssign(napi_env env, napi_callback_info info);
napi_value SparseGroupBuild(napi_env env, napi_callback_info info);
