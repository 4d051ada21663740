"""Export a trained model to portable formats: TensorFlow SavedModel and ONNX (through tf2onnx).

Both exports serve the *last stage* only — ``heatmaps`` (N, n, n, 11) and ``pafs`` (N, n, n, 10) for
normalised depth ``depth`` (N, S, S, 1) in [0, 1] — which is all a predictor needs — and carry the model's
label codec beside them (``<name>.codec.json``), so :func:`backsurface.net.inference.open_model` reads an
ONNX file as it reads the Keras one.  Files are written whole or not at all.  A user outside
:class:`~backsurface.net.predictor.Predictor` feeds each raw frame through ``codec.preprocess(depth)``: with
``crop: back`` the box is found in every frame from its own depth, it is not one fixed letterbox.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from backsurface.codec.label_codec import LabelCodec
from backsurface.core.atomic import atomic_dir, atomic_file
from backsurface.net.model_file import check_codec

OPSET = 17


def _serving_function(model: keras.Model):
    size = int(model.inputs[0].shape[1])
    spec = (tf.TensorSpec((None, size, size, 1), tf.float32, name="depth"),)

    @tf.function(input_signature=spec)
    def serve(depth):
        outputs = model(depth, training=False)
        return {"heatmaps": outputs[-2], "pafs": outputs[-1]}

    return serve, spec


def to_savedmodel(model: keras.Model, codec: LabelCodec, path: str | Path) -> Path:
    """A SavedModel directory whose ``serving_default`` signature maps ``depth`` to heatmaps and pafs."""
    check_codec(model, codec, str(path))
    serve, _ = _serving_function(model)
    module = tf.Module()
    module.model = model
    module.serve = serve
    with atomic_dir(path) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": serve})
    codec.save(Path(path))
    return Path(path)


def to_onnx(model: keras.Model, codec: LabelCodec, path: str | Path, opset: int = OPSET) -> Path:
    """An ONNX file with input ``depth`` and outputs ``heatmaps`` and ``pafs``."""
    check_codec(model, codec, str(path))
    import tf2onnx  # noqa: PLC0415 - only for this export

    serve, spec = _serving_function(model)
    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset)
    with atomic_file(path, "wb") as fh:
        fh.write(proto.SerializeToString())
    codec.save(path)
    return Path(path)


def load_savedmodel(path: str | Path):
    """The exported serving function: ``fn(depth=tensor)`` → {"heatmaps", "pafs"}."""
    return tf.saved_model.load(str(path)).signatures["serving_default"]
