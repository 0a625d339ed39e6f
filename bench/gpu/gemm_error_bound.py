"""
GPU check of cmbn's exact-verification bound (run on a GPU machine; needs PyTorch or CuPy).

cmbn's dense kernel takes top-K candidates from any float32 GEMM and only trusts the winner when
top1 - top2 > 4·E_i, with E_i = 1.01·(d+2)·u·(|x_i|·cmax + hmax) and u the backend's unit
roundoff. That makes shard results bit-identical across CPU and GPU backends *if* the GPU GEMM
honours the bound. This script measures, on MNIST-like uint8 data:
  - the worst |S_gpu − S_exact| / E_i for plain float32 (u = 2^-24) and for TF32 tensor cores,
  - the fraction of rows that would be rescored,
  - GEMM throughput (TFLOP/s) for the MBN cost model.
Prints one JSON object.
"""
import json, time, sys
import numpy as np

rng = np.random.default_rng(0)
n, k, d = 8192, 4096, 392
kind = sys.argv[1] if len(sys.argv) > 1 else "dense-uint8"
if kind == "sparse-uint8":  # MNIST-like: ~20% lit pixels; partial sums stay below 2^24, so float32 is exact
    X = (rng.random((n, d)) < 0.2) * rng.integers(0, 256, (n, d))
elif kind == "dense-uint8":  # every pixel lit: sums reach ~2.5e7 > 2^24, so float32 rounds
    X = rng.integers(0, 256, (n, d))
else:  # real-valued data: every product rounds
    X = rng.standard_normal((n, d)) * 10 + 3
X = X.astype(np.float32)
C = X[rng.choice(n, k, replace=False)]
h64 = 0.5 * (C.astype(np.float64) ** 2).sum(1)
exact = X.astype(np.float64) @ C.astype(np.float64).T - h64[None, :]
xn = np.sqrt((X.astype(np.float64) ** 2).sum(1))
cmax = np.sqrt((C.astype(np.float64) ** 2).sum(1)).max()
hmax = h64.max()

def bound(u):
    return 1.01 * (d + 2) * u * (xn * cmax + hmax)

out = {"data": kind, "n": n, "k": k, "d": d}
try:
    import torch
    dev = torch.device("cuda")
    out["device"] = torch.cuda.get_device_name(0)
    out["torch"] = torch.__version__
    Xt, Ct = torch.from_numpy(X).to(dev), torch.from_numpy(C).to(dev)
    ht = torch.from_numpy(h64.astype(np.float32)).to(dev)
    for mode, allow in (("fp32", False), ("tf32", True)):
        torch.backends.cuda.matmul.allow_tf32 = allow
        S = (Xt @ Ct.T - ht).double().cpu().numpy()
        err = np.abs(S - exact).max(1)
        for name, u in (("u24", 2.0 ** -24), ("u11", 2.0 ** -11)):
            out[f"{mode}_worst_err_over_bound_{name}"] = float((err / bound(u)).max())
        top2 = np.sort(S, axis=1)[:, -2:]
        out[f"{mode}_rescored_fraction_u24"] = float(((top2[:, 1] - top2[:, 0]) <= 4 * bound(2.0 ** -24)).mean())
        # exactness of the argmax without verification
        out[f"{mode}_raw_argmax_wrong_rows"] = int((S.argmax(1) != exact.argmax(1)).sum())
        torch.cuda.synchronize()
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            R = Xt @ Ct.T
        torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / reps
        out[f"{mode}_tflops"] = 2 * n * k * d / dt / 1e12
    # the MBN cost model of MNIST 70k defaults (NOTES.md): 70000·400·1428·392·2 ≈ 3.1e13 FLOP in the bottom layer
    out["mnist70k_default_bottom_layer_seconds_fp32"] = 3.1e13 / (out["fp32_tflops"] * 1e12)
except Exception as e:  # noqa: BLE001
    out["error"] = repr(e)
print(json.dumps(out))
