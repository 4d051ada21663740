"""The two-branch multi-stage network (paper Sec. 3-2 and 7-4, eq. 5-6; OpenPose, Cao et al. 2017).

A ``keras.applications`` backbone truncated at output stride 8 turns the depth image into
features F (at output stride 4, F is first upsampled ×2 by a learned 4×4 transposed convolution, as the
deconvolution heads of SimpleBaseline do, so every stage works on the finer grid).  Stage 1 predicts
heatmaps H¹ = ρ¹(F) (landmarks + background) and affinity fields L¹ = φ¹(F); every later stage t sees
concat(F, H^{t-1}, L^{t-1}).  The model takes the normalised depth as one channel in [0, 1] (the preprocess
stage's output) and stacks it to three channels with the backbone's own ImageNet preprocessing inside the
graph, so a saved model needs nothing but the depth image.

Outputs: a list ``[H1, L1, H2, L2, ..., HT, LT]`` (intermediate supervision needs every stage).

Precision: ``mixed_bfloat16`` builds every layer with bfloat16 computation and float32 variables (Keras mixed
precision), except the depth scaling in front of the backbone and each stage's output convolution and output,
which stay float32 so the loss and the outputs are float32; ``float32`` (the default) computes in float32
throughout.

Weights: ``imagenet`` loads the Keras ``*_notop.h5`` file from disk (``weights_dir``, else
``$KERAS_HOME/models``, else ``~/.keras/models``) and fails with a clear message when it is not
there: nothing is ever downloaded, and nothing falls back silently.  ``none`` is random init.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from backsurface.codec.encode import N_HEATMAP_CHANNELS, N_PAF_CHANNELS
from backsurface.codec.grid import STRIDE


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications
    cut_layer: str  # last layer kept: output stride 8
    weights_file: str  # the Keras ImageNet notop file name


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        # VGG-19 after its tenth convolution, as OpenPose does
        Backbone("vgg19", "VGG19", "block4_conv2", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        # each ResNet after its conv3 block group (the last stride-8 layer)
        Backbone("resnet50", "ResNet50", "conv3_block4_out", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("resnet152", "ResNet152", "conv3_block8_out",
                 "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    )
}
WEIGHTS = ("none", "imagenet")
PRECISIONS = ("float32", "mixed_bfloat16")
STRIDES = (STRIDE, STRIDE // 2)
"""Output strides: the backbones' cut (8), or the cut's features upsampled ×2 (4)."""
# caffe-mode preprocessing shared by VGG and ResNet in keras.applications: 0-255, BGR, ImageNet mean removed
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class ModelError(ValueError):
    """A model configuration or weights file that cannot be used; the message says which."""


def backbone_spec(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ModelError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}") from None


def keras_weights_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_weights(backbone: str, weights: str, weights_dir: str | Path | None = None) -> Path | None:
    """The ImageNet weights file to load, or None for random init; never downloads."""
    spec = backbone_spec(backbone)
    if weights == "none":
        return None
    if weights != "imagenet":
        raise ModelError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    folder = Path(weights_dir) if weights_dir else keras_weights_dir()
    path = folder / spec.weights_file
    if not path.is_file():
        raise ModelError(
            f"weights 'imagenet' for {backbone}: {path} not found. This study never downloads weights; "
            f"copy the Keras file there (or set train.weights_dir), or set train.weights: none for random init"
        )
    return path


@keras.saving.register_keras_serializable(package="backsurface")
class DepthToBackbone(layers.Layer):
    """Normalised depth (…, 1) in [0, 1] → three identical channels in caffe mode (0-255, BGR, mean removed)."""

    def call(self, x):
        x = keras.ops.concatenate([x, x, x], axis=-1) * 255.0
        return x - keras.ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)


def build_backbone(name: str, input_size: int, weights_path: Path | None = None) -> keras.Model:
    """The backbone from its input to the stride-8 cut layer (a Keras model of its own)."""
    spec = backbone_spec(name)
    ctor = getattr(keras.applications, spec.constructor)
    try:
        full = ctor(include_top=False, weights=str(weights_path) if weights_path else None,
                    input_shape=(input_size, input_size, 3))
    except (ValueError, OSError) as exc:
        raise ModelError(f"{name}: cannot load weights from {weights_path}: {exc}") from None
    return keras.Model(full.input, full.get_layer(spec.cut_layer).output, name=f"{name}_stride8")


def _conv(x, filters: int, kernel: int, name: str, relu: bool = True, dtype: str | None = None):
    return layers.Conv2D(filters, kernel, padding="same", activation="relu" if relu else None,
                         kernel_initializer="glorot_uniform", name=name, dtype=dtype)(x)


def _branch(x, stage: int, branch: int, out_channels: int, width: int, kernel: int, n_convs: int, head: int):
    prefix = f"s{stage}_b{branch}"
    for i in range(n_convs):
        x = _conv(x, width, kernel, f"{prefix}_conv{i + 1}")
    x = _conv(x, head, 1, f"{prefix}_head")
    return _conv(x, out_channels, 1, f"{prefix}_out", relu=False, dtype="float32")


def build_model(
    backbone: str,
    input_size: int,
    stages: int = 7,
    width: int = 128,
    refine_kernel: int = 7,
    feature_channels: int = 128,
    weights_path: Path | None = None,
    precision: str = "float32",
    stride: int = STRIDE,
) -> keras.Model:
    """The full network; outputs ``[H1, L1, ..., HT, LT]`` at ``input_size / stride``, float32 whatever
    ``precision``.

    Stage 1 per branch: three 3×3×``width`` convs, a 1×1 head (512 in OpenPose's stage 1,
    ``width`` in later stages) and a 1×1 output conv.  Later stages: five
    ``refine_kernel``²×``width`` convs, 1×1×``width``, 1×1 out.  The backbone features are first
    reduced to ``feature_channels`` by two 3×3 convs (OpenPose's conv4_3_CPM / conv4_4_CPM); at ``stride`` 4 a
    4×4 transposed convolution of ``feature_channels`` (stride 2, ReLU) then doubles their grid.
    """
    if input_size % STRIDE:
        raise ModelError(f"input_size must be a multiple of {STRIDE}, got {input_size}")
    if stages < 1:
        raise ModelError(f"stages must be >= 1, got {stages}")
    if precision not in PRECISIONS:
        raise ModelError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if stride not in STRIDES:
        raise ModelError(f"stride must be one of {STRIDES}, got {stride!r}")
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)  # keras.applications backbones take the global policy only
    try:
        return _build(backbone, input_size, stages, width, refine_kernel, feature_channels, weights_path, stride)
    finally:
        keras.config.set_dtype_policy(before)


def _build(backbone, input_size, stages, width, refine_kernel, feature_channels, weights_path,
           stride) -> keras.Model:
    inputs = keras.Input((input_size, input_size, 1), name="depth")
    x = DepthToBackbone(name="to_backbone", dtype="float32")(inputs)
    x = build_backbone(backbone, input_size, weights_path)(x)
    x = _conv(x, 2 * feature_channels, 3, "features_conv1")
    features = _conv(x, feature_channels, 3, "features_conv2")
    if stride != STRIDE:  # the one upsampling: stride 8 -> 4
        features = layers.Conv2DTranspose(feature_channels, 4, strides=2, padding="same", activation="relu",
                                          kernel_initializer="glorot_uniform", name="features_up")(features)
    outputs = []
    x = features
    for t in range(1, stages + 1):
        first = t == 1
        kernel, n_convs, head = (3, 3, 4 * width) if first else (refine_kernel, 5, width)
        h = _branch(x, t, 1, N_HEATMAP_CHANNELS, width, kernel, n_convs, head)
        paf = _branch(x, t, 2, N_PAF_CHANNELS, width, kernel, n_convs, head)
        h = layers.Identity(name=f"stage{t}_heatmaps", dtype="float32")(h)
        paf = layers.Identity(name=f"stage{t}_pafs", dtype="float32")(paf)
        outputs += [h, paf]
        if t < stages:
            x = layers.Concatenate(name=f"stage{t + 1}_input")([features, h, paf])
    return keras.Model(inputs, outputs, name=f"backsurface_{backbone}_T{stages}")


def n_stages(model: keras.Model) -> int:
    return len(model.outputs) // 2


def check_architecture(model: keras.Model, source: str = "model") -> None:
    """A model of this study: one square single-channel input and outputs ``[H1, L1, ..., HT, LT]`` in stage pairs
    of 11 heatmap and 10 affinity channels on one grid; one :class:`ModelError` naming ``source`` otherwise."""
    ins = [tuple(i.shape) for i in model.inputs]
    if len(ins) != 1 or len(ins[0]) != 4 or ins[0][-1] != 1 or ins[0][1] is None or ins[0][1] != ins[0][2]:
        raise ModelError(f"{source}: not a back-surface landmark model: expected one input (N, S, S, 1) of "
                         f"normalised depth, found {len(ins)} input(s) of shapes {ins}")
    outs = [tuple(o.shape) for o in model.outputs]
    channels = [N_HEATMAP_CHANNELS if n % 2 == 0 else N_PAF_CHANNELS for n in range(len(outs))]
    if (not outs or len(outs) % 2 or any(len(o) != 4 for o in outs)
            or [o[-1] for o in outs] != channels or len({o[1:3] for o in outs}) != 1):
        raise ModelError(f"{source}: not a back-surface landmark model: expected outputs [H1, L1, ..., HT, LT] in "
                         f"stage pairs of {N_HEATMAP_CHANNELS} heatmap and {N_PAF_CHANNELS} affinity channels on one "
                         f"grid, found {len(outs)} output(s) of shapes {outs}")


def load_keras(path: str | Path) -> keras.Model:
    """A model saved in the native Keras format, with a clear error for a bad file (no codec: see :mod:`model_file`)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file (train first, or give the .keras file)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)  # safe_mode: no Python lambdas run
    except Exception as exc:  # keras raises many types for a corrupt or foreign file
        why = " ".join(str(exc).split())  # one line
        raise ModelError(f"{path}: not a loadable Keras model ({type(exc).__name__}: {why})") from None
