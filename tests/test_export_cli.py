"""Model export (ONNX, SavedModel) and the command-line predictor."""

import json

import numpy as np
import pytest
from helpers import codec, untrained_model

from backsurface.__main__ import main
from backsurface.core import camera, contract
from backsurface.net import inference, model_file

SIZE = 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    m = untrained_model("resnet50", SIZE, stages=2, width=8, feature_channels=8)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model_file.save(m, codec(SIZE), path)
    return m, path


def test_onnx_and_savedmodel_match_keras_and_carry_the_codec(tiny, tmp_path):
    from backsurface.net import export

    m, _ = tiny
    x = np.random.default_rng(0).random((3, SIZE, SIZE, 1)).astype(np.float32)
    ref = m(x, training=False)
    runner, got_codec = inference.open_model(export.to_onnx(m, codec(SIZE), tmp_path / "m.onnx"))
    assert got_codec == codec(SIZE) and (tmp_path / "m.codec.json").is_file()
    for got, want in zip(runner(x), (ref[-2], ref[-1])):
        np.testing.assert_allclose(got, np.asarray(want), atol=1e-4)
    serve = export.load_savedmodel(export.to_savedmodel(m, codec(SIZE), tmp_path / "saved"))
    out = serve(depth=x)
    np.testing.assert_allclose(out["heatmaps"].numpy(), np.asarray(ref[-2]), atol=1e-4)
    np.testing.assert_allclose(out["pafs"].numpy(), np.asarray(ref[-1]), atol=1e-4)


def _depth_png(path):
    d = np.full((camera.HEIGHT, camera.WIDTH), 2600, np.uint16)
    d[60:380, 150:360] = (1450 + np.arange(60, 380) // 5)[:, None]
    contract.write_depth(path, d)
    return path


def test_predict_cli_writes_annotations_with_indices_and_overlays(tiny, tmp_path, capsys):
    _, model_path = tiny
    frames = [_depth_png(tmp_path / "A1.png"), _depth_png(tmp_path / "A2.png")]
    out = tmp_path / "landmarks.json"
    rc = main(["predict", *map(str, frames), "--model", str(model_path), "--out", str(out),
               "--overlay", str(tmp_path / "overlay.png")])
    assert rc == 0
    records = contract.read_annotations(out)
    assert [r.id for r in records] == ["A1", "A2"]
    raw = json.loads(out.read_text())[0]
    assert len(raw["landmarks"]) == 20 and len(raw["confidence"]) == 10 and "ppotsi" in raw["indices"]
    assert (tmp_path / "overlay_A1.png").is_file() and (tmp_path / "overlay_A2.png").is_file()


def test_predict_cli_names_a_bad_file_and_fails(tiny, tmp_path, capsys):
    _, model_path = tiny
    bad = tmp_path / "broken.png"
    bad.write_text("not a png")
    rc = main(["predict", str(bad), "--model", str(model_path), "--out", str(tmp_path / "x.json")])
    assert rc == 2 and "broken.png" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    rc = main(["predict", str(_depth_png(tmp_path / "B.png")), "--model", str(tmp_path / "nope.keras"),
               "--out", str(tmp_path / "x.json")])
    assert rc == 2 and "nope.keras" in capsys.readouterr().err


def test_the_flip_test_averages_the_runs_outputs_with_its_mirror_images_and_the_cli_can_turn_it_off(tiny, tmp_path):
    from backsurface.codec import mirror

    m, path = tiny
    x = np.random.default_rng(1).random((2, SIZE, SIZE)).astype(np.float32)
    plain, _ = inference.open_model(path)
    flipped, _ = inference.open_model(path, flip_test=True)
    want = mirror.average(plain(x), plain(x[:, :, ::-1].copy()))
    for got, w in zip(flipped(x), want):
        np.testing.assert_allclose(got, w, atol=1e-5)
    stages, heat, pafs = inference.final_outputs(m, x, flip_test=True)
    np.testing.assert_allclose(heat, want[0], atol=1e-5)
    np.testing.assert_allclose(stages[-2], plain(x)[0], atol=1e-5)  # the figures' stages stay one pass
    frame = _depth_png(tmp_path / "F.png")
    outs = {}
    for flag in ("--flip-test", "--no-flip-test"):
        outs[flag] = tmp_path / f"{flag}.json"
        assert main(["predict", str(frame), "--model", str(path), "--out", str(outs[flag]), flag]) == 0
    a, b = (json.loads(p.read_text())[0]["confidence"] for p in outs.values())
    assert a != b  # an untrained net is not mirror-symmetric: the two protocols give other outputs


def _calibration_frames(tmp_path, n=3):
    return [_depth_png(tmp_path / f"C{k}.png") for k in range(n)]


def test_the_int8_copy_is_quantised_carries_the_codec_and_stays_near_the_float32_export(tiny, tmp_path):
    import onnx

    from backsurface.net import export, quantize

    m, _ = tiny
    rng = np.random.default_rng(3)
    x = rng.random((6, SIZE, SIZE)).astype(np.float32)
    src = export.to_onnx(m, codec(SIZE), tmp_path / "m.onnx")
    path = quantize.to_onnx_int8(src, codec(SIZE), tmp_path / "m.int8.onnx", x[:4])
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left
    runner, got_codec = inference.open_model(path)
    assert got_codec == codec(SIZE)
    float_runner, _ = inference.open_model(src)
    for got, want in zip(runner(x), float_runner(x)):
        assert got.shape == want.shape
        # 8-bit activations through ~20 layers of an untrained net: the error is a few per cent of the outputs'
        # spread (seeds 0-7 gave 3-10 %), never a different map
        rms = float(np.sqrt(np.mean((got - want) ** 2)))
        assert rms <= 0.2 * float(want.std())
        assert np.corrcoef(got.ravel(), want.ravel())[0, 1] >= 0.98


def test_int8_calibration_images_are_checked_before_anything_is_written(tiny, tmp_path):
    from backsurface.net import export, quantize

    m, _ = tiny
    src = export.to_onnx(m, codec(SIZE), tmp_path / "m.onnx")
    dst = tmp_path / "m.int8.onnx"
    for bad, says in ((np.zeros((2, SIZE + 1, SIZE)), "preprocessed"), (np.zeros((0, SIZE, SIZE)), "no calibration"),
                      ([], "no calibration"), (np.full((1, SIZE, SIZE), np.nan), "NaN")):
        with pytest.raises(quantize.QuantizeError, match=says):
            quantize.to_onnx_int8(src, codec(SIZE), dst, bad)
        assert not dst.exists()


def test_cpu_int8_flags_read_the_flags_line():
    from backsurface.net.quantize import cpu_int8_flags

    assert cpu_int8_flags("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n") == ["avx512_vnni"]
    assert cpu_int8_flags("flags\t\t: fpu sse avx2 amx_tile amx_int8 avx_vnni\n") == ["avx_vnni", "amx_int8"]
    assert cpu_int8_flags("flags\t\t: fpu sse avx2\nbugs\t\t: avx_vnni\n") == []  # only the flags line counts


def test_export_cli_writes_an_int8_copy_the_predictor_runs(tiny, tmp_path, capsys):
    _, model_path = tiny
    out = tmp_path / "m.int8.onnx"
    rc = main(["export", "--model", str(model_path), "--onnx-int8", str(out), "--calibrate",
               *map(str, _calibration_frames(tmp_path))])
    assert rc == 0 and out.is_file() and (tmp_path / "m.int8.codec.json").is_file()
    assert "7-bit weights, calibrated on 3 frame(s)" in capsys.readouterr().out
    landmarks = tmp_path / "landmarks.json"
    rc = main(["predict", str(_depth_png(tmp_path / "P.png")), "--model", str(out), "--out", str(landmarks)])
    assert rc == 0 and len(contract.read_annotations(landmarks)) == 1


def test_export_cli_refuses_int8_without_calibration_a_bad_frame_or_a_frame_as_output(tiny, tmp_path, capsys):
    _, model_path = tiny
    out = tmp_path / "m.int8.onnx"
    with pytest.raises(SystemExit) as exc:
        main(["export", "--model", str(model_path), "--onnx-int8", str(out)])
    assert exc.value.code == 2 and "--calibrate" in capsys.readouterr().err
    bad = tmp_path / "broken.png"
    bad.write_text("not a png")
    rc = main(["export", "--model", str(model_path), "--onnx-int8", str(out), "--calibrate",
               str(_depth_png(tmp_path / "C.png")), str(bad)])
    assert rc == 2 and "broken.png" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit) as exc:
        main(["export", "--model", str(model_path), "--onnx", str(tmp_path / "m.onnx"), "--calibrate",
              str(_depth_png(tmp_path / "E.png"))])
    assert exc.value.code == 2 and "--onnx-int8" in capsys.readouterr().err
    held = tmp_path / "saved"  # a calibration frame inside the --savedmodel directory: refused, left as it was
    held.mkdir()
    frame = _depth_png(held / "F.png")
    before = frame.read_bytes()
    rc = main(["export", "--model", str(model_path), "--savedmodel", str(held), "--onnx-int8", str(out),
               "--calibrate", str(frame)])
    assert rc == 2 and "F.png" in capsys.readouterr().err and frame.read_bytes() == before and not out.exists()
    same = tmp_path / "same.onnx"
    rc = main(["export", "--model", str(model_path), "--onnx", str(same), "--onnx-int8", str(same), "--calibrate",
               str(_depth_png(tmp_path / "D.png"))])
    err = capsys.readouterr().err
    assert rc == 2 and "same.onnx" in err and not same.exists()


def test_an_export_refuses_a_codec_of_another_grid_and_an_onnx_file_must_match_its_codec(tiny, tmp_path):
    from backsurface.net import export
    from backsurface.net.model import ModelError

    m, _ = tiny
    stride_4 = codec(SIZE, stride=4)  # the same input, a 8² output grid: not this model's 4²
    for write, out in ((export.to_onnx, tmp_path / "m.onnx"), (export.to_savedmodel, tmp_path / "saved")):
        with pytest.raises(ModelError, match="they do not belong together"):
            write(m, stride_4, out)
        assert not out.exists() and not (tmp_path / "m.codec.json").exists()
    path = export.to_onnx(m, codec(SIZE), tmp_path / "m.onnx")
    stride_4.save(path)  # a codec file replaced beside a good export
    with pytest.raises(ModelError, match=r"outputs 4², its codec says 32² → 8²"):
        inference.open_model(path)
