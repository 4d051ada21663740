"""Bad input, as an adversarial new user would give it (issue 12): every case gets one clear line naming the
file, key or record (exit status 2 at the command line), no input changes (checksums before and after) and no
partial output is left.  Cases are numbered as in the issue; "kept" pins what was checked and found good."""

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from backsurface.acquisition.acquire import write_cohort
from backsurface.acquisition.recording import Recording
from backsurface.acquisition.sources import ImportSource
from backsurface.core import arrayfile, atomic, camera, contract
from backsurface.core import params as P

ROOT = Path(__file__).resolve().parents[1]
PAPER_EXAMPLE = [267, 137, 261, 304, 214, 154, 313, 154, 239, 202, 294, 192, 227, 261, 295, 258, 247, 286, 273, 291]
SIZE = 32


# ------------------------------------------------------------------------------------------------- helpers


def snapshot(*roots: Path) -> dict[str, str]:
    """Every entry under ``roots`` (hidden ones too): file → sha256, symbolic link → its target, folder → 'dir',
    pipe or device → 'special'."""
    out = {}
    for root in roots:
        entries = [root] if not root.is_dir() or root.is_symlink() else [root, *root.rglob("*")]
        for p in entries:
            if p.is_symlink():
                out[str(p)] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[str(p)] = "dir"
            elif p.exists() and not p.is_file():
                out[str(p)] = "special"  # a pipe or device: never read it
            elif p.exists():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {lines}"
    return lines[0]


def recording(i: int, subject: str = "S1", rid: str | None = None) -> Recording:
    depth = np.random.default_rng(i).integers(800, 2500, size=(camera.HEIGHT, camera.WIDTH)).astype(np.uint16)
    pts = np.asarray(PAPER_EXAMPLE, dtype=float).reshape(10, 2) + i
    return Recording(id=f"F{i}" if rid is None else rid, depth=depth, landmarks=pts,
                     subject={"subject_id": subject, "sex": "F"}, source="synthetic", landmarks_mm=np.ones((10, 3)))


@pytest.fixture
def cohort(tmp_path) -> Path:
    """A valid two-frame cohort of two subjects."""
    write_cohort([recording(0, "S1"), recording(1, "S2")], tmp_path / "raw", progress=False)
    return tmp_path / "raw"


def edit_annotations(cohort_dir: Path, change) -> None:
    path = cohort_dir / contract.ANNOTATIONS
    records = json.loads(path.read_text())
    change(records)
    path.write_text(json.dumps(records))


def depth_png(path: Path, offset: int = 0) -> Path:
    d = np.full((camera.HEIGHT, camera.WIDTH), 2600, np.uint16)
    d[60:380, 150:360] = (1450 + offset + np.arange(60, 380) // 5)[:, None]
    contract.write_depth(path, d)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A PNG whose header claims ``width`` x ``height`` 16-bit greyscale pixels (PIL: DecompressionBombError)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + 2 * width) * 4)
    path.write_bytes(contract.PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
                     + png_chunk(b"IEND", b""))
    return path


def tiff_renamed_png(path: Path) -> Path:
    Image.fromarray(np.full((camera.HEIGHT, camera.WIDTH), 1500, np.int32)).save(path, format="TIFF")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny trained-format model (input 32) with its codec and card, as tests/test_export_cli.py builds it."""
    from helpers import codec, untrained_model

    from backsurface.net import model_file

    path = tmp_path_factory.mktemp("model") / "model.keras"
    model_file.save(untrained_model("resnet50", SIZE, stages=1, width=4, feature_channels=4), codec(SIZE), path)
    return path


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail the test if the predict CLI gets as far as loading a model (its outputs must be checked first)."""
    from backsurface.net.predictor import Predictor

    def refuse(*_a, **_k):
        raise AssertionError("the model was loaded before the bad input was refused")

    monkeypatch.setattr(Predictor, "from_file", classmethod(lambda cls, *a, **k: refuse()))


def cli(argv, capsys) -> tuple[int, str]:
    from backsurface.__main__ import main

    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


# ------------------------------------------------------------------ 1. a raw frame can be overwritten


@pytest.mark.parametrize("target", ["out", "overlay", "out_symlink", "out_hardlink", "codec", "per_frame_overlay"])
def test_1_an_output_that_is_an_input_is_refused_before_anything_runs(tmp_path, tiny, capsys, no_model_loading,
                                                                      target):
    victim = depth_png(tmp_path / "victim.png")
    frames = [victim]
    args = ["--model", tiny, "--out", tmp_path / "landmarks.json"]
    if target == "out":  # --out victim.png: refused (a .png is never the JSON) before anything runs
        args = ["--model", tiny, "--out", victim]
    elif target == "overlay":
        args += ["--overlay", victim]
    elif target == "out_symlink":
        (tmp_path / "link.json").symlink_to(victim)
        args = ["--model", tiny, "--out", tmp_path / "link.json"]
    elif target == "out_hardlink":
        os.link(victim, tmp_path / "hard.json")
        args = ["--model", tiny, "--out", tmp_path / "hard.json"]
    elif target == "codec":  # the model's own codec is an input too
        args = ["--model", tiny, "--out", tiny.with_name("model.codec.json")]
    elif target == "per_frame_overlay":  # NAME_<id>.png of frame 'victim' with --overlay ov.png is ov_victim.png
        frames = [victim, depth_png(tmp_path / "ov_victim.png")]
        args += ["--overlay", tmp_path / "ov.png"]
    before = snapshot(tmp_path, tiny.parent)
    rc, err = cli(["predict", *frames, *args], capsys)
    assert rc == 2
    line = one_line(err)
    assert ("input" in line or ".json" in line) and ("victim" in line or "codec" in line or "link" in line)
    assert snapshot(tmp_path, tiny.parent) == before  # nothing changed, nothing new


def test_1_export_refuses_targets_that_are_or_hold_the_model(tmp_path, tiny, capsys):
    (tiny.parent / "sub" / "e.codec.json").mkdir(parents=True, exist_ok=True)
    before = snapshot(tiny.parent)
    for argv, words in (
        (["--onnx", tiny], ".onnx"),  # a .keras name is never an ONNX file
        (["--savedmodel", tiny.parent], "replace the input"),  # would delete the model's folder
        (["--savedmodel", tiny], "is the input"),
        (["--onnx", tiny.parent / "sub" / "e.onnx"], "is a directory"),  # its codec's path is a folder
        (["--onnx", tiny.parent / "model.card.json" / "e.onnx"], "not a directory"),
    ):
        rc, err = cli(["export", "--model", tiny, *argv], capsys)
        assert rc == 2 and words in one_line(err), err
    assert snapshot(tiny.parent) == before


# --------------------------------------------------------------- 2. a record id writes outside the cohort


def test_2_an_escaping_id_is_refused_before_any_frame_is_written(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(tmp_path)
    recs = [recording(0), recording(1, rid="../../../ESCAPED")]  # the first frame is written, then the bad id
    with pytest.raises(contract.ContractError, match=r"recording '\.\./\.\./\.\./ESCAPED': id: .*not a safe name"):
        write_cohort(recs, work / "raw", progress=False)
    assert snapshot(tmp_path) == before  # rolled back, nothing written anywhere below tmp_path
    assert not any(p.name.startswith("ESCAPED") for p in tmp_path.parent.iterdir())


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "a\\b", "", " ", "   ", ".hidden", "-rf", "a b", "CON",
                                 "nul.txt", "x" * 101, "é", "a\x00b", "tab\t", "new\nline"])
def test_2_unsafe_ids_are_refused_on_read_and_write(cohort, tmp_path, bad):
    with pytest.raises(contract.ContractError, match="recording"):
        write_cohort([recording(0, rid=bad)], tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()
    edit_annotations(cohort, lambda r: r[0].update(id=bad))
    before = snapshot(cohort)
    with pytest.raises(contract.ContractError, match=r"annotations\.json: record 0 .*: id: ") as err:
        contract.read_cohort(cohort)
    one_line(str(err.value))
    assert snapshot(cohort) == before


_SAFE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True).filter(
    lambda s: s.split(".")[0].upper() not in contract._WINDOWS_RESERVED)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_2_any_accepted_id_is_a_plain_file_name_inside_depth(value):
    """Property, independent of the rule's regex: an accepted id never names anything but one plain file."""
    if contract.id_problem(value) is not None:
        with pytest.raises(contract.ContractError):
            contract.check_id(value)
        return
    name = f"{value}.png"
    assert Path(name).name == name and not name.startswith((".", "-"))
    assert all(33 <= ord(c) < 127 for c in value) and "/" not in value and "\\" not in value
    depth = Path("/cohort/depth")
    assert os.path.normpath(depth / name) == str(depth / name)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_SAFE, min_size=1, max_size=3, unique_by=str.lower))
def test_2_safe_ids_round_trip_through_the_cohort(tmp_path_factory, ids):
    out = tmp_path_factory.mktemp("ids") / "raw"
    write_cohort([recording(n, subject=i, rid=i) for n, i in enumerate(ids)], out, progress=False)
    anns, cohort = contract.read_cohort(out)
    assert [a.id for a in anns] == ids and list(cohort["subject_id"]) == ids
    assert sorted(p.name for p in (out / "depth").iterdir()) == sorted(f"{i}.png" for i in ids)


def test_2_ids_that_differ_only_in_case_are_refused(tmp_path):
    with pytest.raises(contract.ContractError, match="differ only in case"):
        write_cohort([recording(0, rid="S001"), recording(1, rid="s001")], tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()


# ---------------------------------------------------------------------------- 3. reading outside the cohort


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "etc_passwd", "symlinked_frame", "symlinked_depth",
                                  "backslash", "a_folder"])
def test_3_every_frame_path_resolves_inside_the_cohort(cohort, tmp_path, kind):
    outside = depth_png(tmp_path / "outside.png", offset=7)
    if kind == "dotdot":
        edit_annotations(cohort, lambda r: r[0].update(image="../outside.png"))
    elif kind == "absolute":
        edit_annotations(cohort, lambda r: r[0].update(image=str(outside)))
    elif kind == "etc_passwd":
        edit_annotations(cohort, lambda r: r[0].update(image="/etc/passwd"))
    elif kind == "symlinked_frame":
        (cohort / "depth" / "F0.png").unlink()
        (cohort / "depth" / "F0.png").symlink_to(outside)
    elif kind == "symlinked_depth":
        (cohort / "depth").rename(tmp_path / "elsewhere")
        (cohort / "depth").symlink_to(tmp_path / "elsewhere")
    elif kind == "backslash":
        edit_annotations(cohort, lambda r: r[0].update(image="depth\\F0.png"))
    elif kind == "a_folder":
        edit_annotations(cohort, lambda r: r[0].update(image="depth"))
    before = snapshot(tmp_path)
    for read in (contract.read_cohort, ImportSource):
        with pytest.raises(contract.ContractError, match=r"annotations\.json: record 'F0': image") as err:
            read(cohort)
        line = one_line(str(err.value))
        assert any(w in line for w in ("inside", "leave", "symbolic link", "regular file")), line
    with pytest.raises(contract.ContractError):
        write_cohort(ImportSource(cohort), tmp_path / "copy", progress=False)
    assert snapshot(tmp_path) == before and not (tmp_path / "copy").exists()


# ------------------------------------------------------------------------ 4. duplicate subject in cohort.csv


def test_4_a_duplicate_subject_row_is_refused_naming_file_and_id(cohort):
    table = cohort / contract.COHORT
    table.write_text(table.read_text() + "S1,M\n")
    before = snapshot(cohort)
    with pytest.raises(contract.ContractError, match=r"cohort\.csv: subject_id 'S1' appears in rows 1 and 3") as e:
        contract.read_cohort(cohort)
    assert str(table) in one_line(str(e.value)) and snapshot(cohort) == before


def test_4_subject_ids_that_differ_only_in_case_are_one_subject_twice(cohort):
    table = cohort / contract.COHORT
    table.write_text(table.read_text() + "s1,M\n")
    before = snapshot(cohort)
    message = r"cohort\.csv: subject_ids 'S1' \(row 1\) and 's1' \(row 3\) differ only in case"
    with pytest.raises(contract.ContractError, match=message):
        contract.read_cohort(cohort)
    assert snapshot(cohort) == before


def test_4_neighbours_two_recordings_of_one_subject_must_agree(tmp_path):
    a, b = recording(0, "S1"), recording(1, "S1")
    b = Recording(**{**b.__dict__, "subject": {"subject_id": "S1", "sex": "M"}})
    with pytest.raises(contract.ContractError, match=r"recording 'F1': subject 'S1' has sex='M' here but sex='F'"):
        write_cohort([a, b], tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()


def test_4_neighbours_a_cohort_is_never_written_over_the_cohort_it_imports(cohort):
    before = snapshot(cohort.parent)
    for out in (cohort, cohort / "sub", cohort.parent):
        with pytest.raises(contract.ContractError, match="overlaps the imported cohort"):
            write_cohort(ImportSource(cohort), out, progress=False)
    assert snapshot(cohort.parent) == before


# --------------------------------------------------------------- 5. tracebacks that reached the user


def test_5_a_decompression_bomb_is_refused_from_its_header(cohort, tmp_path):
    bomb = bomb_png(tmp_path / "bomb.png")
    with pytest.raises(contract.ContractError, match=r"bomb\.png: depth frame must be 512x424, got 30000x30000"):
        contract.read_depth(bomb)
    frame = cohort / "depth" / "F0.png"
    frame.write_bytes(bomb.read_bytes())  # import: the same bomb as a cohort frame
    before = snapshot(tmp_path)
    with pytest.raises(contract.ContractError, match=r"F0\.png: depth frame must be 512x424, got 30000x30000"):
        write_cohort(ImportSource(cohort), tmp_path / "copy", progress=False)
    assert snapshot(tmp_path) == before


def test_5_predict_refuses_a_bomb_in_one_line(tmp_path, tiny, capsys, no_model_loading):
    bomb = bomb_png(tmp_path / "bomb.png")
    before = snapshot(tmp_path)
    rc, err = cli(["predict", bomb, "--model", tiny, "--out", tmp_path / "x.json"], capsys)
    assert rc == 2 and "bomb.png" in one_line(err) and "30000x30000" in err
    assert snapshot(tmp_path) == before


def test_5_a_model_of_another_architecture_is_one_line_not_an_index_error(tmp_path, capsys):
    import keras
    from helpers import codec

    inp = keras.Input((SIZE, SIZE, 1))
    foreign = keras.Model(inp, keras.layers.Conv2D(3, 8, strides=8)(inp))  # loadable, one output of 3 channels
    path = tmp_path / "model" / "model.keras"
    path.parent.mkdir()
    foreign.save(path)
    codec(SIZE).save(path)
    frame = depth_png(tmp_path / "A1.png")
    before = snapshot(tmp_path)
    rc, err = cli(["predict", frame, "--model", path, "--out", tmp_path / "x.json", "--overlay",
                   tmp_path / "o.png"], capsys)
    assert rc == 2
    line = one_line(err)
    assert "model.keras: not a back-surface landmark model" in line and "11 heatmap and 10 affinity" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["existing_dir", "parent_is_a_file", "proc", "overlay_dir"])
def test_5_unusable_outputs_are_refused_before_prediction(tmp_path, tiny, capsys, no_model_loading, kind):
    frames = [depth_png(tmp_path / "A1.png"), depth_png(tmp_path / "A2.png")]
    out, overlay = tmp_path / "landmarks.json", tmp_path / "overlay.png"
    if kind == "existing_dir":
        out.mkdir()
    elif kind == "parent_is_a_file":
        (tmp_path / "blocker").write_text("a file")
        out = tmp_path / "blocker" / "sub" / "landmarks.json"
    elif kind == "proc":
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc")
        out = Path("/proc/landmarks.json")
    elif kind == "overlay_dir":
        (tmp_path / "overlay_A2.png").mkdir()
    before = snapshot(tmp_path)
    rc, err = cli(["predict", *frames, "--model", tiny, "--out", out, "--overlay", overlay], capsys)
    assert rc == 2
    line = one_line(err)
    assert str(out) in line or "overlay_A2.png" in line
    assert any(w in line for w in ("is a directory", "not a directory", "cannot write")), line
    assert snapshot(tmp_path) == before  # no overlay written first


@pytest.mark.parametrize("kind", ["not_utf8", "directory", "fifo"])
def test_5_unreadable_annotations_name_the_file(cohort, kind):
    path = cohort / contract.ANNOTATIONS
    path.unlink()
    if kind == "not_utf8":
        path.write_bytes(b'[{"id": "F0", "image": "depth/F0.png\xff"}]')
    elif kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    before = snapshot(cohort)
    with pytest.raises(contract.ContractError) as err:
        contract.read_cohort(cohort)
    line = one_line(str(err.value))
    assert line.startswith(str(path)) and any(w in line for w in ("UTF-8", "directory", "regular file"))
    assert snapshot(cohort) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"subject_id,sex\nS1,\xe9\n", "not UTF-8"),
        (None, "is a directory"),
        (b'subject_id,sex\nS1,"F\nS2,M\n', "not a readable CSV"),  # unclosed quote
        (b"subject_id,sex\n", "no subject rows"),
        (b"subject_id,sex,sex\nS1,F,F\nS2,M,M\n", "column 'sex' appears more than once"),
        (b"subject_id,sex\nS1,F,extra\nS2,M\n", "row 1 has 3 fields"),  # pandas made S1 the index, silently
        (b"sex\nF\n", "missing column 'subject_id'"),
        (b"subject_id,sex\nS1,F\n,M\n", "row 2: subject_id must not be empty"),
        (b"subject_id,sex\nS1,F\n../S2,M\n", "row 2: subject_id '../S2' is not a safe name"),
    ],
)
def test_5_unreadable_cohort_tables_name_the_file(cohort, content, words):
    table = cohort / contract.COHORT
    table.unlink()
    if content is None:
        table.mkdir()
    else:
        table.write_bytes(content)
    before = snapshot(cohort)
    with pytest.raises(contract.ContractError) as err:
        contract.read_cohort(cohort)
    line = one_line(str(err.value))
    assert line.startswith(str(table)) and words in line, line
    assert snapshot(cohort) == before


@pytest.mark.parametrize("kind", ["directory", "binary", "control_characters", "device", "python_tag"])
def test_5_params_check_on_an_unreadable_file_is_one_line(tmp_path, capsys, kind):
    path = tmp_path / "params.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(bytes(range(256)))
    elif kind == "control_characters":
        path.write_bytes(b"seed: 1\x00\x07\nacquire: [\n")
    elif kind == "device":
        path = Path("/dev/zero")  # would be read forever
    else:
        path.write_text("seed: !!python/object/apply:os.system ['touch pwned']\n")
    before = snapshot(tmp_path)
    assert P.main(["check", str(path)]) == 2
    assert str(path) in one_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------ 6. ids are strings


def test_6_subject_id_001_stays_001(cohort, tmp_path):
    edit_annotations(cohort, lambda r: [rec["subject"].update(subject_id=s) for rec, s in zip(r, ["001", "NA"])])
    (cohort / contract.COHORT).write_text("subject_id,sex\n001,F\nNA,F\n")
    anns, table = contract.read_cohort(cohort)
    assert list(table["subject_id"]) == ["001", "NA"] and table["subject_id"].map(type).eq(str).all()
    write_cohort(ImportSource(cohort), tmp_path / "copy", progress=False)
    assert (tmp_path / "copy" / contract.COHORT).read_text() == "subject_id,sex\n001,F\nNA,F\n"
    assert [a.subject["subject_id"] for a in contract.read_cohort(tmp_path / "copy")[0]] == ["001", "NA"]


def test_6_a_subject_id_that_is_not_a_string_is_refused(cohort):
    edit_annotations(cohort, lambda r: r[0]["subject"].update(subject_id=1))
    with pytest.raises(contract.ContractError, match=r"record 0 \(id 'F0'\): subject: subject_id must be a string"):
        contract.read_cohort(cohort)


@pytest.mark.slow
def test_6_the_synthetic_cohort_table_round_trips_byte_for_byte(synthetic, tmp_path):
    write_cohort(synthetic, tmp_path / "raw", progress=False)
    _, table = contract.read_cohort(tmp_path / "raw")
    contract.write_cohort_table(tmp_path / "again.csv", table)
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "raw" / contract.COHORT).read_bytes()
    assert list(table["subject_id"]) == [s.subject_id for s in synthetic.subjects]


# -------------------------------------------------------------------------- 7. a non-standard NaN


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_7_a_non_finite_coordinate_is_refused_naming_the_record(cohort, token):
    path = cohort / contract.ANNOTATIONS
    records = json.loads(path.read_text())
    records[1]["landmarks"][3] = "@@"
    path.write_text(json.dumps(records).replace('"@@"', token))
    before = snapshot(cohort)
    with pytest.raises(contract.ContractError) as err:
        contract.read_cohort(cohort)
    line = one_line(str(err.value))
    assert line.startswith(str(path)) and "record 1 (id 'F1'): landmarks.3: must be a finite number" in line
    assert snapshot(cohort) == before


def test_7_a_recording_with_one_coordinate_missing_names_it(tmp_path):
    rec = recording(0)
    pts = rec.landmarks.copy()
    pts[0, 0] = np.nan
    with pytest.raises(contract.ContractError, match=r"recording 'F0': landmark VP has one coordinate missing"):
        write_cohort([Recording(**{**rec.__dict__, "landmarks": pts})], tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()


def test_7_neighbours_a_key_given_twice_in_a_record_is_refused(cohort):
    path = cohort / contract.ANNOTATIONS
    path.write_text(path.read_text().replace('"id": "F1"', '"id": "F1", "id": "F9"', 1))
    with pytest.raises(contract.ContractError, match=r"record 1 \(id 'F9'\): key 'id' appears more than once"):
        contract.read_cohort(cohort)


# -------------------------------------------------------------------------- 8. accepted nonsense in params


DEFAULT = P.read_yaml(ROOT / "params.yaml")


@pytest.mark.parametrize(
    ("sections", "key", "words"),
    [
        ({"split": {"n_test_subjects": 200}}, "split.n_test_subjects", "acquire.cohort.n_subjects (105)"),
        ({"split": {"n_test_subjects": 60}}, "split.n_test_subjects", "leaves 45"),
        ({"seed": True}, "seed", "valid integer, got True"),
        ({"acquire": {"sensor": {"noise": "yes"}}}, "acquire.sensor.noise", "valid boolean, got 'yes'"),
        ({"train": {"epochs": "10"}}, "train.epochs", "valid integer, got '10'"),
        ({"train": {"epochs": 10.0}}, "train.epochs", "valid integer"),
        ({"acquire": {"sensor": {"wall_mm": 1000.0}}}, "acquire.sensor: wall_mm", "behind the subject"),
        ({"preprocess": {"background": "fixed", "threshold_mm": 1400.0}}, "preprocess.threshold_mm",
         "between the subject"),
        ({"preprocess": {"background": "fixed", "threshold_mm": 2700.0}}, "preprocess.threshold_mm",
         "acquire.sensor.wall_mm = 2600"),
        ({"acquire": {"sensor": {"wall_mm": 1800.0}}}, "preprocess.body_depth_mm", "reaches the wall"),
        ({"preprocess": {"background": "behind"}}, "preprocess.background", "fixed"),
        ({"train": {"learning_rate": float("nan")}}, "train.learning_rate", "must be finite, got nan"),
        ({"evaluate": {"pck_mm": float("inf")}}, "evaluate.pck_mm", "must be finite, got inf"),
        ({"acquire": {"import_dir": 5}}, "acquire.import_dir", "valid string"),
    ],
)
def test_8_params_check_refuses_nonsense_naming_the_key(tmp_path, capsys, sections, key, words):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(P.deep_merge(DEFAULT, sections), sort_keys=False))
    before = snapshot(tmp_path)
    assert P.main(["check", str(path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"{path}: {key}") and words in line, line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["top", "nested", "overlay"])
def test_8_a_duplicate_yaml_key_is_refused_naming_key_and_file(tmp_path, capsys, where):
    base = (ROOT / "params.yaml").read_text()
    path, overlay = tmp_path / "params.yaml", tmp_path / "overlay.yaml"
    path.write_text(base + ("seed: 3\n" if where == "top" else ""))
    if where == "nested":
        assert "  stages: 3 " in base
        path.write_text(base.replace("  stages: 3 ", "  stages: 3\n  stages: 4 ", 1))
    overlay.write_text("train:\n  epochs: 2\n  epochs: 3\n")
    argv = ["check", str(path)] + ([str(overlay)] if where == "overlay" else [])
    assert P.main(argv) == 2
    line = one_line(capsys.readouterr().err)
    bad = overlay if where == "overlay" else path
    assert line.startswith(str(bad)) and "duplicate key" in line
    assert {"top": "'seed'", "nested": "'stages'", "overlay": "'epochs'"}[where] in line


def test_8_an_int_is_fine_for_a_float_and_the_committed_profiles_stay_valid():
    assert P.validate(P.deep_merge(DEFAULT, {"acquire": {"cohort": {"age_min": 19}}})).acquire.cohort.age_min == 19.0
    for overlay in (None, "profiles/smoke.yaml", "profiles/paper.yaml"):
        p = P.load(ROOT / "params.yaml", ROOT / overlay if overlay else None)
        clinical = P.clinical_cohort_params(p)
        assert clinical.acquire.cohort.n_subjects == p.clinical.n_subjects
        assert P.main(["check", str(ROOT / "params.yaml")] + ([str(ROOT / overlay)] if overlay else [])) == 0


def test_8_the_clinical_cohort_is_never_split_so_its_size_is_free():
    small = P.validate(P.deep_merge(DEFAULT, {"clinical": {"n_subjects": 4}}))
    assert P.clinical_cohort_params(small).acquire.cohort.n_subjects == 4  # below 2 x n_test_subjects: fine


# ------------------------------------------------------------------------- 9. more accepted nonsense


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda r: r[0]["landmarks"].__setitem__(0, True), "landmarks.0: Input should be a valid number, got True"),
        (lambda r: r[0]["landmarks"].__setitem__(1, "12.5"), "landmarks.1: Input should be a valid number, got '12.5'"),
        (lambda r: r[0].update(width="512"), "width: Input should be a valid integer"),
        (lambda r: r[0].update(id="   "), "id: '   ' is not a safe name"),
        (lambda r: r[1].update(image="depth/F0.png"), "is already the image of record 'F0'"),
        (lambda r: r[1].update(image="depth/./F0.png"), "is already the image of record 'F0'"),
    ],
)
def test_9_bad_landmarks_ids_and_shared_images_are_refused(cohort, change, words):
    edit_annotations(cohort, change)
    before = snapshot(cohort)
    with pytest.raises(contract.ContractError) as err:
        contract.read_cohort(cohort)
    line = one_line(str(err.value))
    assert line.startswith(str(cohort / contract.ANNOTATIONS)) and words in line, line
    assert snapshot(cohort) == before


def test_9_two_records_sharing_one_frame_through_a_folder_name_are_refused(cohort):
    (cohort / "depth2").mkdir()
    edit_annotations(cohort, lambda r: r[1].update(image="depth2/../depth/F0.png"))
    with pytest.raises(contract.ContractError, match=r"record 'F1'.*must not leave|already the image"):
        contract.read_cohort(cohort)


def test_9_a_tiff_renamed_png_is_refused(tmp_path, tiny, capsys, no_model_loading):
    fake = tiff_renamed_png(tmp_path / "fake.png")
    with Image.open(fake) as im:
        assert im.format == "TIFF" and im.size == (camera.WIDTH, camera.HEIGHT)  # the old reader accepted it
    with pytest.raises(contract.ContractError, match=r"fake\.png: not a PNG file"):
        contract.read_depth(fake)
    before = snapshot(tmp_path)
    rc, err = cli(["predict", fake, "--model", tiny, "--out", tmp_path / "x.json"], capsys)
    assert rc == 2 and "fake.png: not a PNG file" in one_line(err)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("content", "words"), [
    (np.zeros((camera.HEIGHT, camera.WIDTH), np.uint8), "8-bit greyscale"),
    (np.zeros((camera.HEIGHT, camera.WIDTH, 3), np.uint8), "8-bit RGB"),
    (np.zeros((10, 12), np.uint16), "512x424, got 12x10"),
])
def test_9_neighbours_other_pngs_are_refused_from_the_header(tmp_path, content, words):
    path = tmp_path / "frame.png"
    Image.fromarray(content).save(path)
    with pytest.raises(contract.ContractError, match=words):
        contract.read_depth(path)


def test_9_a_frame_file_name_that_is_no_safe_id_is_refused(tmp_path, tiny, capsys, no_model_loading):
    frame = depth_png(tmp_path / "my frame.png")
    before = snapshot(tmp_path)
    rc, err = cli(["predict", frame, "--model", tiny, "--out", tmp_path / "x.json"], capsys)
    assert rc == 2 and "my frame.png: frame id 'my frame'" in one_line(err)
    assert snapshot(tmp_path) == before


def test_9_threshold_mm_is_no_option_any_more_and_a_codec_with_inf_is_refused(tmp_path, tiny, capsys):
    from backsurface.codec.label_codec import CodecError, LabelCodec

    with pytest.raises(SystemExit) as exit_:
        cli(["predict", tmp_path / "a.png", "--model", tiny, "--out", tmp_path / "x.json", "--threshold-mm", "inf"],
            capsys)
    assert exit_.value.code == 2
    sidecar = tmp_path / "m.codec.json"
    good = json.loads(tiny.with_name("model.codec.json").read_text())
    for key, value in (("threshold_mm", "Infinity"), ("input_size", "32.0"), ("stride", "true")):
        sidecar.write_text(json.dumps(good).replace(f'"{key}": {json.dumps(good[key])}', f'"{key}": {value}'))
        with pytest.raises(CodecError, match=rf"m\.codec\.json: codec: {key} must be"):
            LabelCodec.for_model(tmp_path / "m.keras")


# ------------------------------------------------------------------------------------- 10. --overlay x.xyz


@pytest.mark.parametrize(("option", "name"), [("--overlay", "x.xyz"), ("--overlay", "x"), ("--out", "x.txt"),
                                              ("--out", "x.png")])
def test_10_output_names_must_have_their_format_s_suffix(tmp_path, tiny, capsys, no_model_loading, option, name):
    frame = depth_png(tmp_path / "A1.png")
    argv = ["predict", frame, "--model", tiny, "--out", tmp_path / "x.json", option, tmp_path / name]
    before = snapshot(tmp_path)
    rc, err = cli(argv, capsys)
    assert rc == 2 and f"{option} {tmp_path / name}" in one_line(err)
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------- 11. output modes


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_11_atomic_outputs_respect_the_umask(tmp_path, umask):
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    atomic.write_text(tmp_path / "t.txt", "x")
    with atomic.atomic_dir(tmp_path / "d") as d:
        (d / "f").write_text("x")
    with atomic.atomic_files([tmp_path / "a.png", tmp_path / "b.json"]) as tmps:
        for t in tmps:
            t.write_text("x")
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {
        "t.txt": file_mode, "d": dir_mode, "a.png": file_mode, "b.json": file_mode}
    if umask == 0o022:
        assert file_mode == 0o644 and dir_mode == 0o755


def test_11_cohort_and_params_outputs_get_normal_modes(tmp_path, umask):
    write_cohort([recording(0)], tmp_path / "raw", progress=False)
    raw = tmp_path / "raw"
    assert raw.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (raw / "depth").stat().st_mode & 0o777 == 0o777 & ~umask
    for f in (raw / "depth" / "F0.png", raw / contract.ANNOTATIONS, raw / contract.COHORT):
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f
    target = tmp_path / "params.yaml"
    target.write_text((ROOT / "params.yaml").read_text())
    P.apply_overlay(target, ROOT / "profiles/paper.yaml")
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------- 11 + 12: a real predict run, its outputs


def test_11_12_predict_outputs_have_normal_modes_and_the_json_is_renamed_in_last(tmp_path, tiny, capsys, monkeypatch):
    old = os.umask(0o022)
    renamed = []
    real_replace = os.replace

    def replace(src, dst, *a, **k):
        renamed.append(Path(dst).name)
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(atomic.os, "replace", replace)
    try:
        frames = [depth_png(tmp_path / "A1.png"), depth_png(tmp_path / "A2.png", offset=20)]
        inputs = snapshot(*frames, tiny.parent)
        rc, err = cli(["predict", *frames, "--model", tiny, "--out", tmp_path / "out" / "landmarks.json",
                       "--overlay", tmp_path / "out" / "overlay.png"], capsys)
    finally:
        os.umask(old)
    assert rc == 0, err
    outs = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in outs] == ["landmarks.json", "overlay_A1.png", "overlay_A2.png"]  # no temporaries
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in outs)
    finals = [n for n in renamed if n in {"landmarks.json", "overlay_A1.png", "overlay_A2.png"}]
    assert finals == ["overlay_A1.png", "overlay_A2.png", "landmarks.json"]
    assert snapshot(*frames, tiny.parent) == inputs


KILLER = textwrap.dedent("""
    import os, signal, sys
    from backsurface.core import atomic
    from backsurface.figures import common
    when, argv = sys.argv[1], sys.argv[2:]
    if when == "writing":  # killed while the second overlay is being written: after the model ran
        real_save, calls = common.save, []
        def save(fig, path, **kw):
            calls.append(path)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_save(fig, path, **kw)
        common.save = save
    else:  # killed in the rename phase, after the first overlay was renamed in
        real_replace, moved = os.replace, []
        def replace(src, dst, *a, **k):
            out = real_replace(src, dst, *a, **k)
            if os.path.basename(str(dst)).startswith("overlay_"):
                moved.append(dst)
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        atomic.os.replace = replace
    from backsurface.__main__ import main
    sys.exit(main(argv))
""")


@pytest.mark.parametrize("when", ["writing", "renaming"])
def test_12_kill_9_leaves_the_old_json_unless_every_overlay_is_new(tmp_path, tiny, when):
    frames = [depth_png(tmp_path / f"A{i}.png", offset=3 * i) for i in range(1, 4)]
    out, overlay = tmp_path / "out" / "landmarks.json", tmp_path / "out" / "overlay.png"
    out.parent.mkdir()
    olds = {out: b"OLD JSON", **{tmp_path / "out" / f"overlay_A{i}.png": b"OLD PNG" for i in range(1, 4)}}
    for path, data in olds.items():
        path.write_bytes(data)
    inputs = snapshot(*frames, tiny.parent)
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), when, "predict", *map(str, frames), "--model", str(tiny),
                           "--out", str(out), "--overlay", str(overlay)], env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    now = {p: p.read_bytes() for p in olds}
    assert now[out] == b"OLD JSON"  # the JSON is renamed in last: still the old one
    new_overlays = [p for p in olds if p != out and now[p] != olds[p]]
    assert new_overlays == ([] if when == "writing" else [tmp_path / "out" / "overlay_A1.png"])
    leftovers = {p.name for p in (tmp_path / "out").iterdir()} - {p.name for p in olds}
    assert all(n.startswith(".") and n.endswith(".tmp") for n in leftovers)  # hidden temporaries only
    assert snapshot(*frames, tiny.parent) == inputs


# ------------------------------------------------------------------------------------ kept as it is


def test_kept_yaml_is_read_with_a_safe_loader_only(tmp_path):
    assert issubclass(P._Loader, yaml.SafeLoader)
    marker = tmp_path / "pwned"
    bad = tmp_path / "p.yaml"
    bad.write_text(f"seed: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(P.ParamsError, match="could not determine a constructor"):
        P.read_yaml(bad)
    assert not marker.exists()
    for f in (ROOT / "lib").rglob("*.py"):
        text = f.read_text()
        for unsafe in ("yaml.unsafe_load", "yaml.Loader", "FullLoader", "UnsafeLoader", "yaml.full_load"):
            assert unsafe not in text, f"{f} uses {unsafe}"


def test_kept_arrays_are_loaded_without_pickle(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, ids=np.array([{"a": 1}], dtype=object))
    with pytest.raises(arrayfile.ArrayFileError, match=r"x\.npz: not a readable NPZ dataset.*allow_pickle"):
        arrayfile.load(path)
    for f in (ROOT / "lib").rglob("*.py"):
        for line in f.read_text().splitlines():
            if "np.load(" in line:
                assert "allow_pickle=False" in line, f"{f}: {line.strip()}"


def test_kept_keras_safe_mode_refuses_a_lambda_layer(tmp_path, capsys):
    import keras

    from backsurface.net.model import ModelError, load_keras

    inp = keras.Input((SIZE, SIZE, 1))
    m = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2.0)(inp))
    path = tmp_path / "lambda.keras"
    m.save(path)
    with pytest.raises(ModelError, match=r"lambda\.keras: not a loadable Keras model.*safe_mode") as err:
        load_keras(path)
    one_line(str(err.value))
    frame = depth_png(tmp_path / "A1.png")
    from helpers import codec

    codec(SIZE).save(path)
    rc, err = cli(["predict", frame, "--model", path, "--out", tmp_path / "x.json"], capsys)
    assert rc == 2 and "safe_mode" in one_line(err) and not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------------------ neighbours in acquisition


def test_neighbours_kinect_subject_ids_are_checked_before_anyone_stands_up():
    from backsurface.acquisition.kinect_live import KinectSource, RecordedStream

    prompts = []
    for ids, words in ((["S001", "../S002"], "'../S002' is not a safe name"), (["S001", "s001"], "more than once"),
                       (["x" * 98], "record id")):  # x*98 + "_c7" is longer than an id may be
        with pytest.raises(contract.ContractError, match=words):
            KinectSource(RecordedStream([]), ids, prompt=prompts.append)
    assert prompts == []  # refused before the warm-up prompt


def test_neighbours_an_extra_field_cannot_replace_a_record_field(tmp_path):
    rec = Recording(**{**recording(0).__dict__, "extra": {"id": "other"}})
    with pytest.raises(contract.ContractError, match="recording 'F0': extra field 'id' is a field of the record"):
        write_cohort([rec], tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()


def test_neighbours_an_overlay_name_too_long_for_the_file_system_is_refused_first(tmp_path, tiny, capsys,
                                                                                   no_model_loading):
    frame = depth_png(tmp_path / ("A" * 100 + ".png"))  # the longest id; NAME_<id>.png with a long NAME
    rc, err = cli(["predict", frame, depth_png(tmp_path / "B.png"), "--model", tiny, "--out", tmp_path / "x.json",
                   "--overlay", tmp_path / ("o" * 150 + ".png")], capsys)
    assert rc == 2 and "file name longer than" in one_line(err)


def test_neighbours_a_missing_subject_id_is_not_written_as_an_empty_cell(tmp_path):
    with pytest.raises(contract.ContractError, match=r"t\.csv: row 2: subject_id is missing"):
        contract.write_cohort_table(tmp_path / "t.csv", pd.DataFrame({"subject_id": ["S1", np.nan]}))
    assert not (tmp_path / "t.csv").exists()
