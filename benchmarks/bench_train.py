"""Training and inference cost per backbone, at the default and at the paper's input size.

For every (backbone, profile) it prints: training images per second (batch 3, after the first traced
step), inference milliseconds per frame (batch 1, eval mode), the process's peak resident memory,
and the tf.data input pipeline's images per second on its own (gather + batch + prefetch over
in-memory labels, no model) with its ratio to what training consumes.  Each configuration runs in
a fresh subprocess so that the peak memory is its own.  Nothing is asserted; numbers vary by machine.

    python benchmarks/bench_train.py                       # all backbones, default and paper profiles
    python benchmarks/bench_train.py --backbones resnet50 --profiles default --steps 5
    python benchmarks/bench_train.py --backbones resnet50 --profiles default --refine-kernel 7 3   # a lighter head
    python benchmarks/bench_train.py --profiles default --precision float32 mixed_bfloat16  # bf16 (AMX/AVX512-BF16)
    python benchmarks/bench_train.py --backbones resnet50 --profiles default --precision mixed_bfloat16 --stride 8 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

# (input size, stages, width, feature channels): params.yaml's default and profiles/paper.yaml
PROFILES = {"default": (184, 3, 64, 64), "paper": (368, 7, 128, 128)}


def synthetic_labels(n: int, size: int, stride: int = 8):
    import numpy as np

    from backsurface.codec import encode as labels

    rng = np.random.default_rng(0)
    out = [labels.render_labels(rng.uniform(0.2 * size, 0.8 * size, (10, 2)), size, stride) for _ in range(n)]
    return {"images": rng.random((n, size, size)).astype(np.float32), "heatmaps": np.stack([o[0] for o in out]),
            "pafs": np.stack([o[1] for o in out]), "masks": np.stack([o[2] for o in out])}


def measure(backbone: str, profile: str, steps: int, jit: bool = False, refine_kernel: int = 7,
            precision: str = "float32", stride: int = 8) -> dict:
    from backsurface.net import train
    from backsurface.net.tfdata import TrainingData

    size, stages, width, features = PROFILES[profile]
    batch = 3
    data = synthetic_labels(batch * (steps + 1), size, stride)
    td = TrainingData(data)
    t0 = time.perf_counter()
    n = 0
    for _ in range(20):
        for b in td.epoch(batch, seed=0, epoch=0):
            n += int(b[0].shape[0])
    pipeline_ips = n / (time.perf_counter() - t0)

    cfg = train.TrainConfig(backbone, size, stages=stages, width=width, refine_kernel=refine_kernel,
                            feature_channels=features,
                            weights="none", weights_dir=None, epochs=1, batch_size=batch, learning_rate=1e-4,
                            lr_schedule="constant", warmup_epochs=0, seed=0, strategy="default", precision=precision,
                            stride=stride)
    strategy = train.make_strategy("default")
    model, optimizer, _ = train.build(cfg, strategy)
    step = train.train_step_fn(model, optimizer, strategy, batch, jit_compile=jit)
    batches = list(td.epoch(batch, seed=0, epoch=0))
    step(batches[0])  # trace
    t0 = time.perf_counter()
    for b in batches[1:]:
        step(b)
    train_ips = batch * (len(batches) - 1) / (time.perf_counter() - t0)

    model = train.as_float32(model, cfg)  # inference as the saved model runs: float32
    x = data["images"][:1, ..., None]
    model(x, training=False)
    t0 = time.perf_counter()
    reps = max(3, steps)
    for _ in range(reps):
        model(x, training=False)
    infer_ms = 1000 * (time.perf_counter() - t0) / reps
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"backbone": backbone, "profile": profile, "precision": precision, "xla": jit, "kernel": refine_kernel,
            "stride": stride, "input": size,
            "stages": stages, "width": width,
            "train_img_per_s": round(train_ips, 3), "infer_ms_per_frame": round(infer_ms, 1),
            "peak_rss_mb": round(peak_mb), "pipeline_img_per_s": round(pipeline_ips),
            "pipeline_over_train": round(pipeline_ips / train_ips),
            "parameters_m": round(model.count_params() / 1e6, 2)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["vgg19", "resnet50", "resnet152"])
    ap.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    ap.add_argument("--steps", type=int, default=4, help="timed training steps of batch 3")
    ap.add_argument("--jit", action="store_true", help="also time the step compiled with XLA (jit_compile)")
    ap.add_argument("--refine-kernel", type=int, nargs="+", default=[7],
                    help="the refinement stages' kernel (params train.refine_kernel); several: one row each")
    ap.add_argument("--precision", nargs="+", default=["float32"], choices=["float32", "mixed_bfloat16"],
                    help="the training computation (params train.precision); several: one row each")
    ap.add_argument("--stride", type=int, nargs="+", default=[8], choices=[4, 8],
                    help="the output stride (params labels.stride; 4: the upsampled head); several: one row each")
    ap.add_argument("--one", nargs=2, metavar=("BACKBONE", "PROFILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(*args.one, args.steps, jit=args.jit, refine_kernel=args.refine_kernel[0],
                                 precision=args.precision[0], stride=args.stride[0])))
        return
    cols = ("backbone", "profile", "precision", "xla", "kernel", "stride", "input", "stages", "train_img_per_s",
            "infer_ms_per_frame", "peak_rss_mb", "pipeline_img_per_s", "pipeline_over_train")
    print(" | ".join(cols))
    for profile in args.profiles:
        for bb in args.backbones:
            for jit in ([False, True] if args.jit else [False]):
                for kernel in args.refine_kernel:
                    for precision in args.precision:
                        for stride in args.stride:
                            cmd = [sys.executable, __file__, "--one", bb, profile, "--steps", str(args.steps),
                                   "--refine-kernel", str(kernel), "--precision", precision,
                                   "--stride", str(stride)] + ["--jit"] * jit
                            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                            row = json.loads(out.stdout.strip().splitlines()[-1])
                            print(" | ".join(str(row[c]) for c in cols), flush=True)


if __name__ == "__main__":
    main()
