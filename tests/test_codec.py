"""The label codec: one object owns the scheme, travels with the model, and refuses what it cannot use."""

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import codec
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.codec import encode, grid
from backsurface.codec.label_codec import CodecError, LabelCodec
from backsurface.core import params as P
from backsurface.data.preprocess import PreprocessError

ROOT = Path(__file__).resolve().parents[1]


def test_to_dict_round_trip_and_sidecar_beside_the_model(tmp_path):
    c = codec(184, sigma_px=6.5, crop="torso")
    assert LabelCodec.from_dict(c.to_dict()) == c
    model = tmp_path / "resnet50" / "model.keras"
    model.parent.mkdir()
    sidecar = c.save(model)
    assert sidecar == tmp_path / "resnet50" / "model.codec.json"
    assert LabelCodec.for_model(model) == c
    assert json.loads(sidecar.read_text())["format"] == 3


def test_a_format_1_codec_is_read_as_the_fixed_threshold_it_was_trained_with(tmp_path):
    old = {k: v for k, v in codec(96).to_dict().items() if k not in ("background", "body_depth_mm", "decoding")}
    old["format"] = 1
    (tmp_path / "model.codec.json").write_text(json.dumps(old))
    c = LabelCodec.for_model(tmp_path / "model.keras")
    assert (c.background, c.threshold_mm) == ("fixed", 1700.0)
    (tmp_path / "model.codec.json").write_text(json.dumps(old | {"background": "nearest"}))
    with pytest.raises(CodecError, match="a format 1 codec has no background"):
        LabelCodec.for_model(tmp_path / "model.keras")


def test_a_format_2_codec_is_read_as_the_log_parabola_it_was_decoded_with(tmp_path):
    old = {k: v for k, v in codec(96, decoding="dark").to_dict().items() if k != "decoding"} | {"format": 2}
    (tmp_path / "model.codec.json").write_text(json.dumps(old))
    assert LabelCodec.for_model(tmp_path / "model.keras") == codec(96, decoding="logparabola")
    (tmp_path / "model.codec.json").write_text(json.dumps(old | {"decoding": "dark"}))
    with pytest.raises(CodecError, match="a format 2 codec has no decoding"):
        LabelCodec.for_model(tmp_path / "model.keras")


def test_the_cut_is_fixed_or_follows_the_subject():
    depth = np.full((424, 512), 2600.0)
    depth[100:300, 200:300] = np.linspace(1900.0, 2000.0, 100)  # a subject at 1.9 m, beyond the paper's 1.7 m
    assert codec(96).cut_mm(depth) == 1700.0
    with pytest.raises(PreprocessError, match="empty foreground"):
        codec(96).preprocess(depth, name="far.png")
    nearest = codec(96, background="nearest", body_depth_mm=300.0)
    assert nearest.cut_mm(depth) == pytest.approx(np.quantile(depth, 0.02) + 300.0)
    image, t = nearest.preprocess(depth)
    u, v = t.raw_to_input(np.array([[250.0, 200.0], [450.0, 50.0]])).T.round().astype(int)
    assert image[v[0], u[0]] > 0 and image[v[1], u[1]] == 0  # the subject is foreground, the wall is not



@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("sigma_px"), r"missing \['sigma_px'\]"),
        (lambda d: d.update(halo=3), r"unknown \['halo'\]"),
        (lambda d: d.update(format=99), "codec format 99"),
        (lambda d: d.update(format=True), "codec format True"),
        (lambda d: d.update(stride=7), "stride must be a positive whole divisor of input_size 96"),
        (lambda d: d.update(crop="head"), "crop must be one of"),
        (lambda d: d.update(cutoff=float("nan")), "cutoff must be a finite number > 0"),
        (lambda d: d.update(threshold_mm=True), "threshold_mm must be a finite number > 0"),
        (lambda d: d.update(background="far"), "background must be one of"),
        (lambda d: d.update(body_depth_mm=-1.0), "body_depth_mm must be a finite number > 0"),
        (lambda d: d.update(decoding="argmax"), "decoding must be one of"),
    ],
)
def test_a_bad_codec_file_is_refused_naming_it(tmp_path, mutate, message):
    d = codec(96).to_dict()
    mutate(d)
    path = tmp_path / "model.codec.json"
    path.write_text(json.dumps(d))
    with pytest.raises(CodecError, match=re.escape(str(path)) + ".*" + message):
        LabelCodec.for_model(tmp_path / "model.keras")


def test_a_model_without_its_codec_gets_one_clear_error(tmp_path):
    with pytest.raises(CodecError, match=r"old\.keras: no label codec beside it \(old\.codec\.json is missing\)"):
        LabelCodec.for_model(tmp_path / "old.keras")
    (tmp_path / "old.codec.json").write_text("{not json")
    with pytest.raises(CodecError, match="not a readable codec file"):
        LabelCodec.for_model(tmp_path / "old.keras")


def test_from_params_reads_preprocess_and_labels():
    p = P.load(ROOT / "params.yaml")
    c = LabelCodec.from_params(p)
    assert (c.input_size, c.crop, c.threshold_mm) == (p.preprocess.input_size, p.preprocess.crop,
                                                       p.preprocess.threshold_mm)
    assert (c.background, c.body_depth_mm) == (p.preprocess.background, p.preprocess.body_depth_mm)
    assert (c.stride, c.sigma_px, c.cutoff, c.limb_width_px) == (p.labels.stride, p.labels.sigma_px, p.labels.cutoff,
                                                                 p.labels.limb_width_px)
    assert c.output_size == p.preprocess.input_size // 8


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(8, 87), st.floats(8, 87)), min_size=10, max_size=10))
def test_encode_then_decode_recovers_the_landmarks(points):
    c = codec(96)
    pts = np.array(points)
    heat, _, mask = c.encode(pts)
    assert mask[:11].all()  # every landmark present, so the background counts too
    got, _ = c.decode(heat)
    # two landmarks closer than a Gaussian's width merge; everywhere else the peak is recovered sub-pixel
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(10) * 1e9
    alone = d.min(axis=1) > 4 * c.sigma_px
    assert np.all(np.abs(got - pts)[alone] < 0.25 * c.stride)


def test_encode_is_the_paper_renderer_with_the_codec_s_values():
    c = codec(96, sigma_px=5.0, limb_width_px=6.0)
    pts = np.linspace([20, 10], [70, 90], 10)
    for a, b in zip(c.encode(pts), encode.render_labels(pts, 96, 8, 5.0, 4.6, 6.0)):
        np.testing.assert_array_equal(a, b)
    data = {"images": np.zeros((2, 96, 96), np.float32), "points": np.stack([pts, pts])}
    out = c.encode_dataset(data, progress=False)
    assert out["heatmaps"].shape == (2, 12, 12, 11) and out["masks"].shape == (2, 21)
    with pytest.raises(CodecError, match=r"images are 96² but the codec's input is 184²"):
        codec(184).encode_dataset(data, progress=False)


def code_of(path: Path) -> str:
    """The code of a module or notebook without its docstrings and comments (what a reader would call logic)."""
    if path.suffix == ".ipynb":
        source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                           if c["cell_type"] == "code")
    else:
        source = path.read_text()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                                          ast.Constant):
            body[0] = ast.Pass()
    return ast.unparse(tree)


def test_the_cell_centre_grid_is_derived_in_one_place():
    """(stride - 1) / 2 — where output cell centres sit in input pixels — lives in codec/grid.py only."""
    pattern = re.compile(r"\(\s*stride\s*-\s*1\s*\)\s*/\s*2")
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "lib").rglob("*.py") if pattern.search(code_of(p))]
    assert hits == ["lib/backsurface/codec/grid.py"]
    assert grid.cell_offset(8) == 3.5 and grid.cell_centres(3, 8).tolist() == [3.5, 11.5, 19.5]


def test_the_paper_threshold_is_written_down_once():
    pattern = re.compile(r"\b1700(\.0)?\b")
    hits = [str(p.relative_to(ROOT)) for p in [*(ROOT / "lib").rglob("*.py"), *(ROOT / "notebooks").glob("*.ipynb")]
            if pattern.search(code_of(p))]
    assert hits == ["lib/backsurface/core/camera.py"]
