"""Training loop: Adam on the summed masked L2 of every stage, checkpoints each epoch, exact resume.

A custom loop (rather than ``Model.fit``) because three things must be exact:

* resume: a checkpoint holds every model variable (BatchNorm statistics included), every optimizer
  variable (Adam moments and its step counter) and the per-epoch history; epoch k's batch order is
  a function of (seed, k) (:func:`dataset.epoch_order`), so a run interrupted after epoch k and
  resumed ends with the same weights as an uninterrupted run;
* a checkpoint belongs to one configuration and one training set: its fingerprint must match, or
  training starts afresh (and says so) instead of resuming someone else's run;
* the loss per branch and stage is logged every epoch (training curves, eq. 7-9 term by term).

``strategy`` picks a ``tf.distribute`` strategy: ``default`` (one device), ``mirrored`` (all
local GPUs, or the CPU), ``one_device``; the loop is written with ``strategy.run`` so a
multi-GPU site changes only the parameter.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from backsurface.core import arrayfile
from backsurface.core.cpu import cpu_flags
from backsurface.net import health
from backsurface.net.loss import stage_losses
from backsurface.net.model import build_model, resolve_weights
from backsurface.net.tfdata import TrainingData

STRATEGIES = ("default", "mirrored", "one_device")
CHECKPOINT = "last.npz"
CHECKPOINT_FORMAT = 2  # bump when the checkpoint or history layout changes: old checkpoints are then not resumed


PREDATED = {"lr_schedule": "constant", "warmup_epochs": 0, "precision": "float32", "stride": 8}
"""Training keys added after models were first saved, with the value that trains exactly as before they existed."""
UNFINGERPRINTED = {"stride": 8}
"""Keys added after checkpoints carried fingerprints, at their former value: not in :meth:`TrainConfig.fingerprint`."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run (every field required: ``params.yaml`` holds the values, :meth:`from_params` reads them)."""

    backbone: str
    input_size: int
    stages: int
    width: int
    refine_kernel: int
    feature_channels: int
    weights: str
    weights_dir: str | None
    epochs: int
    batch_size: int
    learning_rate: float
    lr_schedule: str
    warmup_epochs: int
    seed: int
    strategy: str
    precision: str  # float32 | mixed_bfloat16: the training computation; the saved model is float32
    stride: int  # the output stride (labels.stride): 8, or 4 with the model's upsampling of the features

    @classmethod
    def from_params(cls, params, backbone: str) -> TrainConfig:
        """The study's training run of ``backbone`` (``train`` section of a validated Params)."""
        t = params.train
        if backbone not in t.backbones:
            raise ValueError(f"backbone {backbone!r} is not in train.backbones {list(t.backbones)}")
        return cls(backbone=backbone, input_size=params.preprocess.input_size, stages=t.stages, width=t.width,
                   refine_kernel=t.refine_kernel, feature_channels=t.feature_channels, weights=t.weights,
                   weights_dir=t.weights_dir, epochs=t.epochs_of(backbone), batch_size=t.batch_size,
                   learning_rate=t.rate_of(backbone), lr_schedule=t.schedule_of(backbone),
                   warmup_epochs=t.warmup_epochs if t.schedule_of(backbone) == "cosine" else 0, seed=params.seed,
                   strategy=t.strategy, precision=t.precision, stride=params.labels.stride)

    @classmethod
    def for_leakage(cls, params) -> TrainConfig:
        """The split-leakage experiment's small model: ``leakage`` section, the study's optimiser and weights (its
        own peak rate where ``leakage.learning_rate`` sets one, and its own ``leakage.precision``)."""
        lk, t = params.leakage, params.train
        return cls(backbone=lk.backbone, input_size=params.preprocess.input_size, stages=lk.stages, width=lk.width,
                   refine_kernel=t.refine_kernel, feature_channels=lk.feature_channels, weights=t.weights,
                   weights_dir=t.weights_dir, epochs=lk.epochs, batch_size=t.batch_size,
                   learning_rate=lk.learning_rate if lk.learning_rate is not None else t.rate_of(lk.backbone),
                   lr_schedule=t.schedule_of(lk.backbone),
                   warmup_epochs=min(t.warmup_epochs, lk.epochs - 1) if t.schedule_of(lk.backbone) == "cosine" else 0,
                   seed=params.seed, strategy=t.strategy, precision=lk.precision, stride=params.labels.stride)

    def same_run(self, card_config: dict) -> bool:
        """Whether a model card's ``config`` describes this very run.  Keys a card predates count with the value
        that reproduces the training of its time (:data:`PREDATED`)."""
        return {**PREDATED, **card_config} == asdict(self)

    def fingerprint(self, data_digest: str) -> str:
        """The checkpoint key of this run on these data; a key added after checkpoints were first written is left
        out at the value that trains as before it existed (:data:`UNFINGERPRINTED`), so those checkpoints resume."""
        config = {k: v for k, v in asdict(self).items() if UNFINGERPRINTED.get(k, object()) != v}
        blob = json.dumps({**config, "data": data_digest, "format": CHECKPOINT_FORMAT}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class TrainResult:
    model: keras.Model
    history: list[dict[str, float]]
    weights: str  # "imagenet (<file>)" or "none (random init)"
    resumed_from_epoch: int
    train_seconds: float  # wall time of the epochs run in this call
    images_per_second: float  # training throughput of this call (NaN when nothing was run)
    health: list[dict]  # per stage and branch: last-epoch loss, image-independent baseline, share (health.check)


def data_digest(data: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in ("images", "heatmaps", "pafs", "masks"):
        a = np.ascontiguousarray(data[key])
        h.update(key.encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()[:16]


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"train.strategy must be one of {STRATEGIES}, got {name!r}")


TOTAL = "loss/total"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def loss_names(stages: int) -> list[str]:
    """History keys: ``loss/total`` (eq. 9) and ``loss/stage{t}/{heatmaps,pafs}`` (eq. 7, 8)."""
    return [TOTAL] + [f"loss/stage{t}/{b}" for t in range(1, stages + 1) for b in ("heatmaps", "pafs")]


def _record(epoch: int, per_stage: np.ndarray, seconds: float, n: int) -> dict[str, float]:
    """per_stage: (T, 2) mean per-example losses of one epoch."""
    names = loss_names(per_stage.shape[0])
    values = [float(per_stage.sum())] + [float(v) for v in per_stage.reshape(-1)]
    return {"epoch": epoch + 1, **dict(zip(names, values)), "seconds": seconds, "images_per_second": n / seconds}


def save_checkpoint(path: Path, model: keras.Model, optimizer, epoch: int, history: list, fingerprint: str) -> None:
    """Model and optimizer variables after ``epoch`` completed epochs, written atomically."""
    payload = {f"model_{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(model.weights)}
    payload |= {f"optim_{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)}
    payload["meta"] = np.asarray(json.dumps({"epoch": epoch, "history": history, "fingerprint": fingerprint}))
    arrayfile.save(path, **payload)


def load_checkpoint(path: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    if not path.is_file():
        return None
    data = arrayfile.load(path, required=("meta",))
    return json.loads(str(data.pop("meta"))), data


def _restore(model: keras.Model, optimizer, data: dict[str, np.ndarray]) -> None:
    model_vars, optim_vars = list(model.weights), list(optimizer.variables)
    n_model = sum(k.startswith("model_") for k in data)
    n_optim = sum(k.startswith("optim_") for k in data)
    if (n_model, n_optim) != (len(model_vars), len(optim_vars)):
        raise ValueError(f"checkpoint has {n_model}+{n_optim} variables, model/optimizer {len(model_vars)}+"
                         f"{len(optim_vars)}")
    for i, v in enumerate(model_vars):
        v.assign(data[f"model_{i:04d}"])
    for i, v in enumerate(optim_vars):
        v.assign(data[f"optim_{i:04d}"])


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """The optimizer's learning rate: ``config.learning_rate`` throughout (``constant``), or a linear warm-up from
    0 over ``warmup_epochs`` followed by a cosine decay that reaches 0 just after the last step (``cosine``; Keras
    evaluates a schedule at the step count before the step, so the very first step has rate 0).

    A schedule is a function of the optimizer's step counter, which the checkpoint holds: a resumed run continues
    on the same curve."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.lr_schedule != "cosine":
        raise ValueError(f"train.lr_schedule must be constant or cosine, got {config.lr_schedule!r}")
    total = config.epochs * steps_per_epoch
    warmup = min(config.warmup_epochs, config.epochs - 1) * steps_per_epoch
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warmup, warmup_target=config.learning_rate,
                                                  warmup_steps=warmup)


def build(config: TrainConfig, strategy: tf.distribute.Strategy, steps_per_epoch: int = 1):
    """Model and Adam optimizer created in the strategy's scope, seeded, optimizer variables built."""
    keras.utils.set_random_seed(config.seed)
    weights_path = resolve_weights(config.backbone, config.weights, config.weights_dir)
    with strategy.scope():
        model = build_model(config.backbone, config.input_size, config.stages, config.width,
                            config.refine_kernel, config.feature_channels, weights_path, precision=config.precision,
                            stride=config.stride)
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate(config, steps_per_epoch))
        optimizer.build(model.trainable_variables)
    label = f"imagenet ({weights_path})" if weights_path else "none (random init)"
    return model, optimizer, label


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU instructions that compute bfloat16 natively (oneDNN uses them); without one, bfloat16 is emulated."""


def bfloat16_is_emulated(cpuinfo: str | None = None) -> bool:
    """Whether ``mixed_bfloat16`` would be emulated here: no GPU and a CPU whose flags (``/proc/cpuinfo``, or
    ``cpuinfo``) name none of :data:`BF16_CPU_FLAGS`.  False where the flags cannot be read (no claim made)."""
    if cpuinfo is None and tf.config.list_physical_devices("GPU"):
        return False
    flags = cpu_flags(cpuinfo)
    return bool(flags) and not flags & set(BF16_CPU_FLAGS)


def as_float32(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The trained network as a float32 model (the same architecture and weights, every layer computing in float32):
    what is saved and evaluated, whatever ``config.precision`` trained it.  A float32 model is returned as it is."""
    if config.precision == "float32":
        return model
    f32 = build_model(config.backbone, config.input_size, config.stages, config.width, config.refine_kernel,
                      config.feature_channels, None, precision="float32", stride=config.stride)
    f32.set_weights(model.get_weights())  # mixed precision keeps its variables in float32: no rounding here
    return f32


def train_step_fn(model, optimizer, strategy, batch_size: int, jit_compile: bool = False):
    """One optimiser step over a batch, traced once; ``jit_compile`` compiles it with XLA."""

    def replica_step(images, heatmaps, pafs, masks):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            per_example = stage_losses(outputs, heatmaps, pafs, masks)  # (b, T, 2)
            loss = tf.reduce_sum(per_example) / batch_size
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return tf.reduce_sum(per_example, axis=0)

    @tf.function(jit_compile=jit_compile or None)
    def step(batch):
        per = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per, axis=None)

    return step


def train(
    config: TrainConfig,
    data: dict[str, np.ndarray],
    checkpoint_dir: str | Path,
    on_epoch_end: Callable[[dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    log: Callable[[str], None] | None = print,
    max_baseline_share: float | None = None,
) -> TrainResult:
    """Train (or resume) to ``config.epochs``; ``on_epoch_end`` gets every epoch's record in order,
    restored epochs included, so a logger sees one complete history.  ``stop_after`` ends this call
    after that many epochs in total (to test resuming).

    Once every epoch has run, each branch's last loss is compared with the loss of an image-independent prediction
    (:mod:`backsurface.net.health`); above ``max_baseline_share`` of it the run raises
    :class:`~backsurface.net.health.TrainingHealthError` (``None``: reported in ``health`` only)."""
    tf.config.experimental.enable_op_determinism()
    log = log or (lambda _msg: None)
    if config.precision == "mixed_bfloat16" and bfloat16_is_emulated():
        log(f"{config.backbone}: this CPU has no bfloat16 instructions ({' or '.join(BF16_CPU_FLAGS)}): "
            f"train.precision mixed_bfloat16 is emulated here and slower than float32 (set train.precision: float32)")
    strategy = make_strategy(config.strategy)
    td = TrainingData(data)
    model, optimizer, weights_label = build(config, strategy, td.steps_per_epoch(config.batch_size))
    if td.output_size != model.outputs[0].shape[1]:
        raise ValueError(f"labels are {td.output_size}² but {config.backbone} at {config.input_size}² outputs "
                         f"{model.outputs[0].shape[1]}²: labels and training must use the same input size/stride")
    fingerprint = config.fingerprint(data_digest(data))
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT
    history: list[dict[str, float]] = []
    start = 0
    found = load_checkpoint(ckpt_path)
    if found is not None:
        meta, variables = found
        if meta["fingerprint"] == fingerprint:
            _restore(model, optimizer, variables)
            start, history = int(meta["epoch"]), list(meta["history"])
            log(f"resuming from {ckpt_path} after epoch {start}")
        else:
            log(f"{ckpt_path} belongs to another configuration or training set: starting afresh")
    for record in history:
        if on_epoch_end:
            on_epoch_end(record)
    step = train_step_fn(model, optimizer, strategy, config.batch_size)
    end = config.epochs if stop_after is None else min(config.epochs, stop_after)
    t_total, n_total = 0.0, 0
    for epoch in range(start, end):
        t0 = time.perf_counter()
        sums = np.zeros((config.stages, 2))
        dist = strategy.experimental_distribute_dataset(td.epoch(config.batch_size, config.seed, epoch))
        for batch in dist:
            sums += step(batch).numpy()
        seconds = time.perf_counter() - t0
        record = _record(epoch, sums / td.n, seconds, td.n)
        history.append(record)
        save_checkpoint(ckpt_path, model, optimizer, epoch + 1, history, fingerprint)
        t_total, n_total = t_total + seconds, n_total + td.n
        left = (config.epochs - epoch - 1) * t_total / (epoch + 1 - start)
        log(f"{config.backbone} epoch {epoch + 1}/{config.epochs}  loss {record[TOTAL]:.3f}  {seconds:.0f} s  "
            f"{record['images_per_second']:.2f} img/s  about {_duration(left)} left")
        if on_epoch_end:
            on_epoch_end(record)
    rows = []
    if history:  # nothing trained yet (stop_after=0): nothing to judge
        baseline = health.baseline_losses(data["heatmaps"], data["pafs"], data["masks"])
        remedy = (f"its loss stayed where it started: lower train.learning_rate for {config.backbone} (now "
                  f"{config.learning_rate:g}) and train again")
        rows = health.check(history, baseline, max_baseline_share if end == config.epochs else None,
                            what=f"{config.backbone} ({config.stages} stages, lr {config.learning_rate:g})",
                            remedy=remedy)
        sickest = health.worst(rows)
        log(f"branch health: the worst, stage {sickest['stage']} {health.BRANCH_NAMES[sickest['branch']]}, ends at "
            f"{sickest['share']:.3f}× the loss of an image-independent prediction")
    return TrainResult(as_float32(model, config), history, weights_label, start, t_total,
                       n_total / t_total if t_total else float("nan"), rows)


def summary(config: TrainConfig, result: TrainResult, n_images: int) -> dict:
    """The training stage's metrics: weights, configuration, size, loss at the first and last epoch, time."""
    history = result.history
    seconds = sum(r["seconds"] for r in history)
    return {
        "backbone": config.backbone, "weights": result.weights, "config": asdict(config),
        "n_parameters": int(result.model.count_params()), "epochs": len(history),
        "first_epoch_loss": history[0][TOTAL], "last_epoch_loss": history[-1][TOTAL],
        "loss_ratio_last_to_first": history[-1][TOTAL] / history[0][TOTAL],
        "train_seconds": seconds, "train_images_per_second": n_images * len(history) / seconds,
        "resumed_from_epoch": result.resumed_from_epoch,
        "health": {f"stage{r['stage']}_{r['branch']}_share_of_baseline": round(r["share"], 4) for r in result.health},
    }


def training_headline(summary: dict) -> dict[str, float]:
    """The headline of :func:`summary`: the last epoch's loss (``last_loss``), its ratio to the first's, the
    throughput, the training time and the worst branch's share of its image-independent baseline
    (:mod:`backsurface.net.health`)."""
    out = {"last_loss": summary["last_epoch_loss"], "loss_ratio": summary["loss_ratio_last_to_first"],
           "images_per_s": summary["train_images_per_second"], "time_s": summary["train_seconds"]}
    if summary.get("health"):
        out["worst_share"] = max(summary["health"].values())
    return out


def dvclive_logger(live) -> Callable[[dict[str, float]], None]:
    """An ``on_epoch_end`` that logs every loss term and the throughput to a ``dvclive.Live`` (one step per epoch)."""

    def log_epoch(record: dict[str, float]) -> None:
        for key, value in record.items():
            if key != "epoch":
                live.log_metric(key, value, plot=key != "seconds")
        live.next_step()

    return log_epoch
