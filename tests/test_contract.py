"""The raw-cohort data contract: depth PNGs, annotations, cohort table; bad input names the file."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from backsurface.acquisition.acquire import write_cohort
from backsurface.acquisition.sources import ImportSource, Recording
from backsurface.core import camera, contract
from backsurface.core.landmarks import FLIP_PERMUTATION, KEYS, LINKS, PAPER_LINKS, index

PAPER_EXAMPLE = [267, 137, 261, 304, 214, 154, 313, 154, 239, 202, 294, 192, 227, 261, 295, 258, 247, 286, 273, 291]


def recording(i: int, rng, subject="S1") -> Recording:
    depth = rng.integers(800, 2500, size=(camera.HEIGHT, camera.WIDTH)).astype(np.uint16)
    pts = np.asarray(PAPER_EXAMPLE, dtype=float).reshape(10, 2) + i
    return Recording(id=f"F{i}", depth=depth, landmarks=pts, subject={"subject_id": subject, "sex": "F"},
                     source="synthetic", landmarks_mm=np.ones((10, 3)))


def test_landmark_tables_follow_the_paper():
    assert KEYS == ("VP", "NC", "LSH", "RSH", "LS", "RS", "LW", "RW", "LPSIS", "RPSIS")
    assert [tuple(p) for p in (LINKS + 1)] == list(PAPER_LINKS) == [(9, 10), (7, 8), (5, 6), (3, 4), (1, 2)]
    assert [KEYS[i] for i in FLIP_PERMUTATION] == ["VP", "NC", "RSH", "LSH", "RS", "LS", "RW", "LW", "RPSIS", "LPSIS"]
    assert index("LW") == 6
    with pytest.raises(KeyError, match="XX"):
        index("XX")


def test_paper_example_annotation_validates_and_puts_left_on_image_left():
    ann = contract.Annotation(id="a", image="depth/a.png", landmarks=PAPER_EXAMPLE)
    pts = ann.points()
    assert pts[index("LSH"), 0] < pts[index("RSH"), 0]
    assert ann.links == [list(p) for p in PAPER_LINKS]


def test_depth_png_round_trip(tmp_path, rng):
    depth = rng.integers(0, 4500, size=(camera.HEIGHT, camera.WIDTH)).astype(np.uint16)
    contract.write_depth(tmp_path / "d.png", depth)
    back = contract.read_depth(tmp_path / "d.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, depth)
    with pytest.raises(contract.ContractError, match="never rewritten"):
        contract.write_depth(tmp_path / "d.png", depth)


def test_corrupt_and_wrong_size_depth_files_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(contract.ContractError, match="corrupt.png"):
        contract.read_depth(bad)
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 12), np.uint16)).save(small)
    with pytest.raises(contract.ContractError, match=r"small.png.*512x424.*12x10"):
        contract.read_depth(small)
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((camera.HEIGHT, camera.WIDTH, 3), np.uint8)).save(rgb)
    with pytest.raises(contract.ContractError, match="rgb.png.*single-channel 16-bit"):
        contract.read_depth(rgb)
    with pytest.raises(contract.ContractError, match="wrong.png"):
        contract.write_depth(tmp_path / "wrong.png", np.zeros((10, 10), np.uint16))


def test_cohort_round_trip(tmp_path, rng):
    recs = [recording(i, rng, subject=f"S{i // 2}") for i in range(4)]
    write_cohort(recs, tmp_path / "raw", progress=False)
    anns, cohort = contract.read_cohort(tmp_path / "raw")
    assert [a.id for a in anns] == ["F0", "F1", "F2", "F3"]
    assert list(cohort["subject_id"]) == ["S0", "S1"]
    np.testing.assert_allclose(anns[2].points(), recs[2].landmarks)
    np.testing.assert_array_equal(contract.read_depth(tmp_path / "raw" / anns[3].image), recs[3].depth)
    # import source: validate and copy into a second cohort, identical content
    write_cohort(ImportSource(tmp_path / "raw"), tmp_path / "copy", progress=False)
    anns2, _ = contract.read_cohort(tmp_path / "copy")
    assert [a.points().tolist() for a in anns2] == [a.points().tolist() for a in anns]
    assert all(a.source == "import" for a in anns2)


def test_missing_landmark_round_trips_as_nan(tmp_path, rng):
    rec = recording(0, rng)
    pts = rec.landmarks.copy()
    pts[index("LS")] = np.nan
    rec = Recording(**{**rec.__dict__, "landmarks": pts})
    write_cohort([rec], tmp_path / "raw", progress=False)
    raw = json.loads((tmp_path / "raw" / "annotations.json").read_text())
    assert raw[0]["landmarks"][8:10] == [-1.0, -1.0]
    anns, _ = contract.read_cohort(tmp_path / "raw")
    assert np.isnan(anns[0].points()[index("LS")]).all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r[0].update(landmarks=r[0]["landmarks"][:-2]), r"record 0 \(id 'F0'\): landmarks"),
        (lambda r: r[1].update(landmarks=[600.0] + r[1]["landmarks"][1:]), r"record 1 \(id 'F1'\).*outside.*VP"),
        (lambda r: r[1].update(id="F0"), r"record 1 \(id 'F0'\): duplicate id"),
        (lambda r: r[0].pop("image"), r"record 0 \(id 'F0'\): image: Field required"),
        (lambda r: r[0].update(width=640), r"record 0.*frame size"),
        (lambda r: r[0].update(links=[[1, 2]]), r"record 0.*links"),
        (lambda r: r.append("oops"), r"record 2: expected an object"),
    ],
)
def test_malformed_annotations_name_file_and_record(tmp_path, rng, mutate, message):
    write_cohort([recording(0, rng), recording(1, rng)], tmp_path / "raw", progress=False)
    path = tmp_path / "raw" / "annotations.json"
    records = json.loads(path.read_text())
    mutate(records)
    path.write_text(json.dumps(records))
    with pytest.raises(contract.ContractError, match=message) as err:
        contract.read_annotations(path)
    assert str(path) in str(err.value)


def test_not_json_and_not_a_list(tmp_path):
    p = tmp_path / "annotations.json"
    p.write_text("{broken")
    with pytest.raises(contract.ContractError, match="annotations.json: not valid JSON"):
        contract.read_annotations(p)
    p.write_text("{}")
    with pytest.raises(contract.ContractError, match="expected a JSON list"):
        contract.read_annotations(p)


def test_missing_image_and_missing_cohort_row(tmp_path, rng):
    write_cohort([recording(0, rng)], tmp_path / "raw", progress=False)
    (tmp_path / "raw" / "depth" / "F0.png").unlink()
    with pytest.raises(contract.ContractError, match="record 'F0': image 'depth/F0.png' not found"):
        contract.read_cohort(tmp_path / "raw")
    write_cohort([recording(0, rng)], tmp_path / "raw2", progress=False)
    pd.DataFrame({"subject_id": ["other"]}).to_csv(tmp_path / "raw2" / "cohort.csv", index=False)
    with pytest.raises(contract.ContractError, match="no row for subject 'S1'"):
        list(ImportSource(tmp_path / "raw2"))


def test_failed_acquisition_leaves_nothing_half_written(tmp_path, rng):
    out = tmp_path / "raw"
    write_cohort([recording(0, rng)], out, progress=False)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    def broken():
        yield recording(1, rng)
        yield recording(1, rng)  # duplicate id → error after one frame was written

    with pytest.raises(contract.ContractError, match="F1"):
        write_cohort(broken(), out, progress=False)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # old cohort untouched
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temporary leftovers

    def outside():
        rec = recording(2, rng)
        yield Recording(**{**rec.__dict__, "landmarks": rec.landmarks + 1000})

    with pytest.raises(contract.ContractError, match="recording 'F2'.*outside"):
        write_cohort(outside(), tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()


def test_kinect_source_says_clearly_when_pykinect2_is_absent():
    from backsurface.acquisition.sources import open_kinect

    with pytest.raises(RuntimeError, match="pykinect2"):
        open_kinect(["S001"])
