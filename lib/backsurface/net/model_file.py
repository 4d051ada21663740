"""A trained model on disk: the native Keras file and, beside it, its label codec and its card.

``save`` writes ``model.keras``, ``model.codec.json`` (the label scheme it was trained with) and
``model.card.json`` (how it was trained: backbone, weights, configuration), each whole or not at all;
``load`` gives model and codec back and checks that they belong together, so a model can only be read with
its own codec; :func:`read_card` gives the card.  A model file without a codec (saved before models carried
one) gets one clear :class:`~backsurface.net.model.ModelError`.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from backsurface.codec.label_codec import CodecError, LabelCodec
from backsurface.core.atomic import write_json
from backsurface.net.model import ModelError, check_architecture, load_keras

CARD_SUFFIX = ".card.json"


def check_codec(model: keras.Model, codec: LabelCodec, source: str = "model") -> None:
    """The model's input and output grids must be the codec's."""
    size, out = model.inputs[0].shape[1], model.outputs[-1].shape[1]
    if (size, out) != (codec.input_size, codec.output_size):
        raise ModelError(f"{source}: the model takes {size}² and outputs {out}², its codec says "
                         f"{codec.input_size}² → {codec.output_size}²: they do not belong together")


def card_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.stem + CARD_SUFFIX)


def read_card(path: str | Path) -> dict:
    """The card saved with the model at ``path`` (backbone, weights, training configuration)."""
    card = card_path(path)
    try:
        return json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: no model card beside it ({card.name} is missing)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{card}: not a readable model card ({exc})") from None


def save(model: keras.Model, codec: LabelCodec, path: str | Path, card: dict | None = None) -> Path:
    """Save the model in the native Keras format, its codec and its card beside it, each whole or not at all."""
    path = Path(path)
    check_codec(model, codec, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    codec.save(path)
    write_json(card_path(path), card or {})
    return path


def load(path: str | Path) -> tuple[keras.Model, LabelCodec]:
    """The model saved by :func:`save` and its codec."""
    model = load_keras(path)
    check_architecture(model, str(path))
    try:
        codec = LabelCodec.for_model(path)
    except CodecError as exc:
        raise ModelError(str(exc)) from None
    check_codec(model, codec, str(path))
    return model, codec
