"""Speed of the engine against the GEMM ceiling and (where installed) PyTorch, in one run.

    python bench/speed_layers.py [--repeats 5] [--threads 2]

Prints, for float32 on the CPU:
  * the machine's GEMM peak (4096^3 matrix product), measured now;
  * Conv2d 64->64, 3x3, padding 1 on a (8, 64, 80, 80) batch: forward+backward time, GFLOP/s
    and the fraction of the GEMM peak;
  * one DnCNN-17 training step (batch 8 of 80x80, MSE, Adam);
  * the same work in PyTorch (CPU) and the ratio ours / PyTorch, when torch is installed.
Times are the best of --repeats runs after one warm-up run; ours are measured first, then
PyTorch's (interleaving them makes OpenBLAS's and PyTorch's idle threads compete for the two
cores).  The machine is shared and noisy: compare only figures from the same run.  Our matrix
products run in NumPy's OpenBLAS, whose kernel (printed) can be chosen with OPENBLAS_CORETYPE.
"""
import argparse

import numpy as np

from bench.harness import best_times
from layers import BatchNorm2d, Conv2d, MSELoss, ReLU
from minigrad import Sequential
from minigrad.optim import Adam

N, C, H, W = 8, 64, 80, 80
CONV_FLOP = 3 * 2 * N * C * C * 9 * H * W                 # forward, dx and dW: three GEMMs
# a DnCNN-17 training step's products: fifteen 64->64 convolutions and the 1->64 and 64->1 ones,
# forward, input gradient (not for the first) and weight gradient
DNCNN17_FLOP = 15 * CONV_FLOP + 2 * 2 * N * 64 * 9 * H * W + 3 * 2 * N * 64 * 9 * H * W


def gemm_peak(repeats):
    a = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    return 2 * 4096 ** 3 / best_times([lambda: a @ a], repeats)[0] / 1e9


def dncnn17(depth=17, features=64):
    """DnCNN-17 as in docs/n3net.md, section 5 (the noise-predicting residual is a subtraction)."""
    layers = [Conv2d(1, features, 3, padding=1), ReLU()]
    for _ in range(depth - 2):
        layers += [Conv2d(features, features, 3, padding=1, bias=False), BatchNorm2d(features), ReLU()]
    layers.append(Conv2d(features, 1, 3, padding=1))
    return Sequential(*layers)


def ours():
    rng = np.random.default_rng(0)
    conv = Conv2d(C, C, 3, padding=1)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dy = rng.standard_normal((N, C, H, W)).astype(np.float32)

    def conv_step():
        conv.forward(x)
        conv.backward(dy)

    net, loss_fn = dncnn17(), MSELoss()
    net.set_input_grad(False)                         # as PyTorch: the data needs no gradient
    opt = Adam(net.parameters(), lr=1e-3)
    noisy = rng.standard_normal((N, 1, H, W)).astype(np.float32)
    clean = rng.standard_normal((N, 1, H, W)).astype(np.float32)

    def dncnn_step():
        loss_fn.forward(noisy - net.forward(noisy), clean)
        net.zero_grad()
        net.backward(-loss_fn.backward())
        opt.step()

    return conv_step, dncnn_step


def pytorch(threads):
    import torch
    torch.set_num_threads(threads)
    conv = torch.nn.Conv2d(C, C, 3, padding=1)
    x = torch.randn(N, C, H, W, requires_grad=True)
    dy = torch.randn(N, C, H, W)

    def conv_step():
        conv(x).backward(dy)

    layers = [torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.ReLU()]
    for _ in range(15):
        layers += [torch.nn.Conv2d(64, 64, 3, padding=1, bias=False), torch.nn.BatchNorm2d(64),
                   torch.nn.ReLU()]
    layers.append(torch.nn.Conv2d(64, 1, 3, padding=1))
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    noisy, clean = torch.randn(N, 1, H, W), torch.randn(N, 1, H, W)

    def dncnn_step():
        loss = torch.nn.functional.mse_loss(noisy - net(noisy), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return conv_step, dncnn_step


def blas_kernel():
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    return f"{blas[0]['internal_api']} {blas[0]['version']}, {blas[0]['architecture']} kernels" if blas else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (the best time is kept)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and for PyTorch")
    args = parser.parse_args()
    from minigrad.threads import set_num_threads
    set_num_threads(args.threads)
    try:
        import torch
    except ImportError:
        torch = None

    peak = gemm_peak(3)
    conv_step, dncnn_step = ours()
    conv_s, step_s = best_times([conv_step, dncnn_step], args.repeats)
    print(f"NumPy {np.__version__} with {blas_kernel()}; {args.threads} threads; float32")
    print(f"GEMM peak (4096^3): {peak:.0f} GFLOP/s")
    print(f"Conv2d 64->64 3x3 pad 1, (8,64,80,80), forward+backward: {conv_s * 1e3:.1f} ms, "
          f"{CONV_FLOP / conv_s / 1e9:.0f} GFLOP/s = {CONV_FLOP / conv_s / 1e9 / peak:.0%} of GEMM peak")
    print(f"DnCNN-17 training step (batch 8 of 80x80, MSE, Adam): {step_s * 1e3:.0f} ms, "
          f"{DNCNN17_FLOP / step_s / 1e9:.0f} GFLOP/s of products = {DNCNN17_FLOP / step_s / 1e9 / peak:.0%} of GEMM peak")
    if torch is None:
        print("PyTorch not installed: no comparison (pip install torch==2.13.0)")
        return
    t_conv, t_step = best_times(pytorch(args.threads), args.repeats)
    print(f"PyTorch {torch.__version__}: conv {t_conv * 1e3:.1f} ms "
          f"({CONV_FLOP / t_conv / 1e9:.0f} GFLOP/s), DnCNN-17 step {t_step * 1e3:.0f} ms "
          f"= {DNCNN17_FLOP / t_step / 1e9 / peak:.0%} of GEMM peak")
    print(f"ratio ours / PyTorch: conv {conv_s / t_conv:.2f}x (target 1.3x), "
          f"DnCNN-17 step {step_s / t_step:.2f}x (target 1.2x)")


if __name__ == "__main__":
    main()
