"""Running a trained network on normalised depth images: Keras, or ONNX Runtime on an exported file.

Every runner is a callable ``images (N, S, S) → (heatmaps, pafs)`` of the last stage; :func:`stage_outputs`
gives every stage's outputs of a Keras model (the figures show them).  :class:`FlipTest` wraps a runner in the
test-time flip; :func:`final_outputs` gives the figures' stages and the evaluation's last stage together.
:func:`open_model` opens a ``.keras`` or ``.onnx`` file with the label codec saved beside it.  The predictor, the
evaluation and the notebooks all run models through this module.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from backsurface.codec import mirror
from backsurface.codec.encode import N_HEATMAP_CHANNELS, N_PAF_CHANNELS
from backsurface.codec.label_codec import CodecError, LabelCodec
from backsurface.net import model_file
from backsurface.net.model import ModelError

BATCH_SIZE = 8


def stage_outputs(model: keras.Model, images: np.ndarray, batch_size: int = BATCH_SIZE) -> list[np.ndarray]:
    """All stages' outputs ``[H1, L1, …, HT, LT]`` for (N, S, S) normalised depth images, in eval mode."""
    out = model.predict(np.asarray(images, np.float32)[..., None], batch_size=batch_size, verbose=0)
    return [np.asarray(o) for o in out]


class KerasRunner:
    """The last stage of a Keras model: images → (heatmaps, pafs)."""

    def __init__(self, model: keras.Model, batch_size: int = BATCH_SIZE):
        self.model = model
        self.batch_size = batch_size
        self.input_size = int(model.inputs[0].shape[1])

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = stage_outputs(self.model, images, self.batch_size)
        return out[-2], out[-1]


class OnnxRunner:
    """ONNX Runtime inference with the same call as :class:`KerasRunner`."""

    def __init__(self, path: str | Path):
        import onnxruntime as ort  # noqa: PLC0415 - only when an ONNX file is run

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: no such ONNX file")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a corrupt file
            raise ModelError(f"{path}: not a loadable ONNX model ({type(exc).__name__}: {exc})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[-1] != 1:
            raise ModelError(f"{path}: expected one input (N, S, S, 1), found {[tuple(i.shape) for i in inputs]}")
        self._input = inputs[0].name
        self.input_size = inputs[0].shape[1]
        outputs = self.session.get_outputs()
        self.output_size = outputs[0].shape[1]
        self._outputs = [o.name for o in outputs]
        if sorted(self._outputs) != ["heatmaps", "pafs"]:
            raise ModelError(f"{path}: expected outputs heatmaps and pafs, found {self._outputs}")
        want = {"heatmaps": N_HEATMAP_CHANNELS, "pafs": N_PAF_CHANNELS}
        for o in outputs:
            if len(o.shape) != 4 or o.shape[-1] != want[o.name]:
                raise ModelError(f"{path}: output {o.name} must be (N, n, n, {want[o.name]}), found {tuple(o.shape)}")

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[..., None]
        out = dict(zip(self._outputs, self.session.run(self._outputs, {self._input: x})))
        return out["heatmaps"], out["pafs"]


class FlipTest:
    """Test-time flip around any runner: each image's outputs averaged with those of its mirror image mapped back
    (:mod:`backsurface.codec.mirror`); twice the inference cost."""

    def __init__(self, runner: KerasRunner | OnnxRunner):
        self.runner = runner
        self.input_size = runner.input_size

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.average(self.runner(images), images)

    def average(self, outputs: tuple[np.ndarray, np.ndarray], images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``outputs``: the runner's outputs for ``images``, already computed (the evaluation has every stage's)."""
        return mirror.average(outputs, self.runner(mirror.mirror_images(images)))


Runner = KerasRunner | OnnxRunner | FlipTest


def final_outputs(model: keras.Model, images: np.ndarray, flip_test: bool,
                  batch_size: int = BATCH_SIZE) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every stage's outputs of a Keras model (for the figures) and the last stage's heatmaps and affinity fields
    that the evaluation decodes: averaged with the mirror image's when ``flip_test``."""
    stages = stage_outputs(model, images, batch_size)
    last = (stages[-2], stages[-1])
    if flip_test:
        last = FlipTest(KerasRunner(model, batch_size)).average(last, images)
    return stages, last[0], last[1]


def open_model(path: str | Path, batch_size: int = BATCH_SIZE,
               flip_test: bool = False) -> tuple[Runner, LabelCodec]:
    """A runner for a ``.keras`` or ``.onnx`` file and the codec saved beside it (``flip_test``: wrapped in
    :class:`FlipTest`)."""
    runner, codec = _open(Path(path), batch_size)
    return (FlipTest(runner) if flip_test else runner), codec


def _open(path: Path, batch_size: int) -> tuple[KerasRunner | OnnxRunner, LabelCodec]:
    if path.suffix == ".onnx":
        runner = OnnxRunner(path)
        try:
            codec = LabelCodec.for_model(path)
        except CodecError as exc:
            raise ModelError(str(exc)) from None
        # a symbolic output dim (not an int) is unknown: only the input size is compared then
        out = runner.output_size if isinstance(runner.output_size, int) else codec.output_size
        if (runner.input_size, out) != (codec.input_size, codec.output_size):
            raise ModelError(f"{path}: the ONNX model takes {runner.input_size}² and outputs {runner.output_size}², "
                             f"its codec says {codec.input_size}² → {codec.output_size}²")
        return runner, codec
    model, codec = model_file.load(path)
    return KerasRunner(model, batch_size), codec
