"""The study's front page, ``reports/README.md``: what the study found, every number read from the same run.

:func:`build` writes the page from ``reports/summaries`` (every stage's whole summary) and ``reports/tables`` of one
``dvc repro``.  Each number on the page goes through :class:`Sources`, which reads it from its file and records
where it came from; each table is included verbatim from its file.  The record is written beside the page
(``README.sources.json``) and a test re-reads every source and checks that the page says what the files say, and
that no other figure on the page is a number at all (``tests/test_front_page.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from backsurface.core.atomic import write_json, write_text
from backsurface.data.preprocess import CROPS, describe_crop

PAGE, SOURCES = "README.md", "README.sources.json"
NUMBER = r"[^\s|()]*\d[^\s|()]*"
"""A figure on the page: a run of characters holding a digit, between blanks, bars and brackets."""
LIBRARY_WORDS = {"describe_crop": describe_crop}
"""The library functions whose text the page may print (:meth:`Sources.words`), by name."""
LANDMARKS = ("VP", "NC", "LSH", "RSH", "LS", "RS", "LW", "RW", "LPSIS", "RPSIS")
OWN_NOTEBOOK = "front_page/08_front_page.ipynb"
"""This page's own executed notebook, under reports/ (tools/stage writes it outside ``notebooks/``, which the
stage reads)."""

NOTEBOOKS = {  # executed notebook (stem prefix) → what it reproduces
    "01_acquire": "the recordings and their landmarks (paper Sec. 3-4, Fig. 1)",
    "02_preprocess": "background removal and normalisation (paper Sec. 5, eq. 1, Fig. 2-3)",
    "03_augment": "the four translations (paper Sec. 6, Fig. 4) and the random training copies (beyond the paper)",
    "04_labels": "heatmaps and affinity fields (paper Sec. 7-1 to 7-3, Fig. 5-6)",
    "05_train": "the two-branch multi-stage network on each backbone (paper Sec. 7-4, 8)",
    "06_evaluate": "PCK and PDJ, Tables 1-2 and Figures 7-15 (paper Sec. 9), errors in millimetres (beyond the paper)",
    "06b_split_leakage": "the paper's image-level split against a subject split (beyond the paper)",
    "06c_generalise": "the models on new cohorts (beyond the paper)",
    "07_clinical": "posture indices, curve angle and screening (beyond the paper)",
    "08_front_page": "this page",
}


@dataclass
class Sources:
    """Reads numbers and tables from ``reports`` and remembers each one the page shows."""

    reports: Path
    numbers: list[dict] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    def value(self, rel: str, *keys):
        if rel not in self._cache:
            self._cache[rel] = json.loads((self.reports / rel).read_text(encoding="utf-8"))
        v = self._cache[rel]
        for k in keys:
            v = v[k]
        return v

    def has(self, rel: str, *keys) -> bool:
        try:
            self.value(rel, *keys)
        except (FileNotFoundError, KeyError, IndexError, TypeError):
            return False
        return True

    def num(self, rel: str, *keys, fmt: str = ".1f") -> str:
        """The number at ``keys`` of the JSON file ``rel``, formatted with ``fmt``: what the page prints."""
        v = self.value(rel, *keys)
        text = "n/a" if v is None or (isinstance(v, float) and v != v) else format(v, fmt)
        self.numbers.append({"source": rel, "keys": list(keys), "format": fmt, "text": text})
        return text

    def total(self, parts: list[tuple[str, list]], scale: float = 1.0, fmt: str = ".0f") -> str:
        """The sum of the numbers at ``parts`` ((file, keys) each) times ``scale``, formatted: what the page prints."""
        v = sum(float(self.value(rel, *keys)) for rel, keys in parts) * scale
        text = format(v, fmt)
        self.numbers.append({"sum_of": [[rel, list(keys)] for rel, keys in parts], "scale": scale, "format": fmt,
                             "text": text})
        return text

    def words(self, name: str, *args) -> str:
        """The text of the library's :data:`LIBRARY_WORDS` ``name(*args)`` (a definition of the method in words, such
        as the crop), each figure in it recorded as sourced from that function: what the page prints."""
        text = LIBRARY_WORDS[name](*args)
        for token in sorted(set(re.findall(NUMBER, text))):
            self.numbers.append({"library": name, "args": list(args), "text": token})
        return text

    def table(self, rel: str) -> str:
        """A Markdown table file of ``reports``, included as it is (its caption line too)."""
        text = (self.reports / rel).read_text(encoding="utf-8").strip("\n")
        self.tables.append(rel)
        return text


def _figure(reports: Path, rel: str, alt: str) -> str:
    return f"![{alt}]({rel})" if (reports / rel).is_file() else f"*({rel} was not produced by this run)*"


CODE_PATHS = ("lib", "notebooks", "tools", "params.yaml", "dvc.yaml", "profiles", "pyproject.toml")
"""What makes a run's code: a change under these, not yet committed, marks the commit ``-dirty``.  The reports the
run is writing (this page among them: DVC removes a stage's outputs before it runs) do not."""


def _commit(root: Path) -> str:
    """The commit the run's code is at, ``-dirty`` when a file of :data:`CODE_PATHS` differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=20, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                  *CODE_PATHS], capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + ("-dirty" if changed else "")) if head else "unknown"


def _device() -> str:
    gpu = "an NVIDIA GPU" if shutil.which("nvidia-smi") else "no GPU"
    return f"{os.cpu_count()} CPU cores, {gpu}"


def _run_notebooks(reports: Path, backbones: list[str]) -> list[str]:
    """The executed notebooks of this run (``notebooks/NAME.ipynb``, sorted): every one in the folder but the training
    notebook of a backbone the run does not train (left behind by a run with another ``train.backbones``)."""
    folder = reports / "notebooks"
    names = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    trained = {f"05_train_{bb}.ipynb" for bb in backbones}
    return [f"notebooks/{n}" for n in names if not n.startswith("05_train_") or n in trained]


def _run_time(s: Sources, reports: Path, backbones: list[str]) -> list[str]:
    """How long this run's notebooks took (papermill's own record in each executed notebook); a stage that found a
    finished checkpoint resumed it and took a minute or so."""
    parts = []
    for rel in _run_notebooks(reports, backbones):
        if s.has(rel, "metadata", "papermill", "duration") and isinstance(
                s.value(rel, "metadata", "papermill", "duration"), int | float):
            parts.append((rel, ["metadata", "papermill", "duration"]))
    if not parts:
        return []
    trained = [(rel, k) for rel, k in parts if "05_train" in rel]
    line = (f"Run time: the executed notebooks took {s.total(parts, 1 / 60)} min in all (each as the run that last "
            f"executed it recorded)")
    if trained:
        line += (f", training {s.total(trained, 1 / 60)} min of it (a training that finds its finished checkpoint "
                 f"resumes it; the models' own training times are in the method table)")
    return [line + ".", ""]


def _section_data(s: Sources) -> list[str]:
    a = "summaries/acquire.json"
    return ["## The data", "",
            f"A **synthetic cohort** of {s.num(a, 'n_subjects', fmt='d')} subjects "
            f"({s.num(a, 'n_female', fmt='d')} women; {s.num(a, 'n_deformed', fmt='d')} with a scoliosis-like "
            f"deformity), bodies of the `anny` model posed and rendered as Kinect v2 depth frames with the sensor's "
            f"noise, one frame each, the landmarks known exactly from the mesh. The paper recorded real volunteers "
            f"(healthy, young) with a real sensor, landmarks palpated by an expert: its data carry clothing, hair, "
            f"palpation error and a sensor this renderer only imitates, so numbers here and there differ in data, "
            f"not only in method. The split is by subject (the paper's image-level split is measured separately "
            f"below).", ""]


PRE = "summaries/preprocess.json"


def _crop_words(s: Sources) -> str:
    """The run's crop in words, with its key; ``the frame`` for a summary older than the crop."""
    crop = s.value(PRE, "crop") if s.has(PRE, "crop") else None
    return f"{s.words('describe_crop', crop)} (`preprocess.crop: {crop}`)" if crop in CROPS else "the frame"


def _section_method(s: Sources, backbones: list[str], flip_test: bool = False) -> list[str]:
    rows = ["| backbone | input (px) | stages | width | epochs | learning rate | schedule | training precision | "
            "weights | parameters | training (min) | images/s |", "|:--|--:|--:|--:|--:|--:|:--|:--|:--|--:|--:|--:|"]
    for bb in backbones:
        m = f"summaries/train_{bb}.json"
        # a summary older than the key trained in float32 (net.train.PREDATED)
        precision = s.value(m, "config", "precision") if s.has(m, "config", "precision") else "float32"
        rows.append(f"| {bb} | {s.num(m, 'config', 'input_size', fmt='d')} | {s.num(m, 'config', 'stages', fmt='d')} "
                    f"| {s.num(m, 'config', 'width', fmt='d')} | {s.num(m, 'epochs', fmt='d')} | "
                    f"{s.num(m, 'config', 'learning_rate', fmt='g')} | {s.value(m, 'config', 'lr_schedule')} | "
                    f"`{precision}` | {s.value(m, 'weights')} | {s.num(m, 'n_parameters', fmt=',d')} | "
                    f"{_minutes(s, m)} | "
                    f"{s.num(m, 'train_images_per_second', fmt='.1f')} |")
    return ["## The method", "",
            "The paper's OpenPose-style network: a backbone cut at an output stride of eight (`labels.stride: 4` "
            "adds one learned upsampling, an ablation row), then stages of two "
            "branches (landmark heatmaps and part affinity fields), each refining the last; "
            + _crop_words(s) +
            " letterboxed into a square input, decoded to sub-pixel landmarks"
            + (" (every evaluation averages each image's outputs with those of its mirror image, left and right "
               "swapped back: the test-time flip, `evaluate.flip_test`)" if flip_test else "")
            + ". Per backbone, as trained in this run:", "", *rows, "", *_ablation_link(s.reports)]


ABLATION = "ablation/training.md"


def _ablation_link(reports: Path) -> list[str]:
    """Where the default profile's choices were measured: ``tools/ablate.py``'s table, which is not this run's."""
    if not (reports / ABLATION).is_file():
        return []
    return [f"Why these settings: [`{ABLATION}`]({ABLATION}) holds one retrained ResNet-50 per change (schedule, "
            "crop, refinement kernel, augmentations), train and test error side by side, and, for the runs that "
            "scored them, the error on the new cohorts. `tools/ablate.py` wrote it, run by run at the commits it "
            "names and on the machines it records; it is not part of this run.", ""]


def _minutes(s: Sources, m: str) -> str:
    seconds = s.value(m, "train_seconds")
    text = format(seconds / 60, ".0f")
    s.numbers.append({"source": m, "keys": ["train_seconds"], "format": ".0f", "scale": 1 / 60, "text": text})
    return text


def _section_paper(s: Sources) -> list[str]:
    return ["## Finding 1: the paper's Tables 1-2, beside ours", "",
            "PCK at the paper's threshold and PDJ, on the 3D landmark error, train and test split, next to the "
            "paper's own numbers (`tables/evaluate/comparison_*.md`). Different data (see above): a higher number "
            "here is the method on easier data, not the method alone.", "",
            "**PCK (%)**", "", s.table("tables/evaluate/comparison_pck.md"), "",
            "**PDJ (%)**", "", s.table("tables/evaluate/comparison_pdj.md"), "",
            _figure(s.reports, "figures/evaluate/pck_curve.png", "PCK against the threshold, test split"), ""]


def _section_mm(s: Sources, backbones: list[str]) -> list[str]:
    e = "summaries/evaluate.json"
    head = "| backbone | mean | median | within 10 mm (%) | " + " | ".join(LANDMARKS) + " |"
    rows = [head, "|:--|" + "--:|" * (3 + len(LANDMARKS))]
    for bb in backbones:
        t = (bb, "test")
        rows.append(f"| {bb} | {s.num(e, *t, 'inplane_mre_mm')} | {s.num(e, *t, 'inplane_median_mm')} | "
                    f"{s.num(e, *t, 'inplane_sdr_10mm_pct')} | "
                    + " | ".join(s.num(e, *t, "inplane_mre_mm_by_landmark", k) for k in LANDMARKS) + " |")
    best = s.value(e, "best_backbone")
    lines = ["## Finding 2: errors in millimetres, per landmark", "",
             "The in-plane error: the raw-pixel offset of each predicted landmark at the true landmark's depth, in "
             "millimetres (test split, mean over images). Expert palpation is about ten millimetres; "
             "rasterstereography a few.", "", *rows, ""]
    health = [bb for bb in backbones if s.has(e, bb, "test", "inplane_mre_mm_deformed")]
    if best in health:
        lines += [f"Best backbone: **{best}**; on its healthy test subjects "
                  f"{s.num(e, best, 'test', 'inplane_mre_mm_healthy')} mm, on those with a deformity "
                  f"{s.num(e, best, 'test', 'inplane_mre_mm_deformed')} mm. The measurement floor (the label "
                  f"heatmaps decoded like a prediction): "
                  f"{s.num(e, 'labels_floor', 'test', 'inplane_mre_mm', fmt='.3f')} mm in-plane, "
                  f"{s.num(e, 'labels_floor', 'test', 'surface_mre_mm', fmt='.3f')} mm on the surface.", ""]
    lines += [_figure(s.reports, "figures/evaluate/error_boxplots.png", "in-plane error per landmark"), ""]
    return lines


def _section_leakage(s: Sources) -> list[str]:
    k = "summaries/leakage.json"
    flatters = s.value(k, "error_ratio_subject_over_image") > 1.0
    lines = [f"## Finding 3: the paper's image-level split {'flatters' if flatters else 'against a subject split'}",
             "", f"The same small model trained twice: on the paper's image-level split "
             f"{s.num(k, 'image_split_test_images_leaked_%', fmt='.0f')} % of the test images have their own frame "
             f"(shifted) in training; test in-plane error {s.num(k, 'test_inplane_mre_mm_image')} mm there against "
             f"{s.num(k, 'test_inplane_mre_mm_subject')} mm on new subjects (ratio "
             f"{s.num(k, 'error_ratio_subject_over_image', fmt='.2f')}).", ""]
    if not flatters:
        lines += ["In this run the leaky split does not flatter: where both protocols' train errors are as high as "
                  "their test errors the small model underfits, and the fit, not the leak, sets the test error.", ""]
    table = "tables/leakage/split_leakage.md"
    if (s.reports / table).is_file():
        lines += [s.table(table), ""]
    return lines + [_figure(s.reports, "figures/leakage/split_leakage.png", "image split against subject split"), ""]


def _section_generalise(s: Sources, backbones: list[str]) -> list[str]:
    g, e = "summaries/generalise.json", "summaries/evaluate.json"
    cohorts = list(s.value(g))
    rows = ["| cohort | " + " | ".join(f"{bb} mm (found %)" for bb in backbones) + " |",
            "|:--|" + "--:|" * len(backbones),
            "| test split | " + " | ".join(s.num(e, bb, "test", "inplane_mre_mm") for bb in backbones) + " |"]
    for c in cohorts:
        rows.append(f"| {c} | " + " | ".join(f"{s.num(g, c, bb, 'inplane_mre_mm')} "
                                             f"({s.num(g, c, bb, 'found_pct', fmt='.0f')})" for bb in backbones)
                    + " |")
    return ["## Finding 4: on people the models have never seen", "",
            "Each cohort is drawn anew with its own seed and a shifted distribution (`generalise` in params): "
            "new people of the training kind, older, heavier, all deformed, standing nearer or farther and "
            "off-centre, swaying more. In-plane mean error (mm) and the share of frames in which a subject was "
            "found (`tables/generalise/cohorts.md` has the healthy and deformed subjects apart, CIs and the ratio "
            "to the test split).", "", *rows, "",
            _figure(s.reports, "figures/generalise/cohort_errors.png", "in-plane error per cohort"), ""]


def _section_clinical(s: Sources) -> list[str]:
    c = "summaries/clinical.json"
    if not s.has(c, "angle_mae_deg") or not s.has(c, "screening_deg"):
        return ["## Finding 5: clinical validation", "", "*(this run's clinical stage wrote no curve-angle metrics)*",
                ""]
    lines = ["## Finding 5: from landmarks to a screening answer", "",
             f"On a new cohort of {s.num(c, 'n_subjects', fmt='d')} synthetic subjects (most with a curve), the "
             f"major curve angle estimated from the surface signs of a scoliosis (the spine line's bend and lateral "
             f"deviation, the rib hump) with the {s.value(c, 'backbone')} landmarks, the model chosen and fitted on a "
             f"separate tuning cohort of {s.num(c, 'n_tuning_subjects', fmt='d')}: mean absolute error "
             f"{s.num(c, 'angle_mae_deg')}° (95% CI {s.num(c, 'angle_mae_deg_ci', 0)}-"
             f"{s.num(c, 'angle_mae_deg_ci', 1)}°), RMSE {s.num(c, 'angle_rmse_deg')}°, r "
             f"{s.num(c, 'angle_r', fmt='.2f')}; from the true landmarks {s.num(c, 'angle_mae_deg_true_landmarks')}°. "
             f"The synthetic truth is the bend of the rig's spine bones, not a radiographic Cobb angle.", ""]
    for i, threshold in enumerate(s.value(c, "screening_deg")):
        key = f"{threshold:g}deg"
        lines.append(f"- curve > {s.num(c, 'screening_deg', i, fmt='g')}°: AUC {s.num(c, f'auc_{key}', fmt='.2f')} "
                     f"(95% CI "
                     f"{s.num(c, f'auc_{key}_ci', 0, fmt='.2f')}-{s.num(c, f'auc_{key}_ci', 1, fmt='.2f')}) from "
                     f"`{s.value(c, 'auc_index', key)}`, sensitivity {s.num(c, f'sensitivity_{key}_pct', fmt='.0f')} %"
                     f" and specificity {s.num(c, f'specificity_{key}_pct', fmt='.0f')} % at the cut-off chosen on "
                     f"the tuning cohort")
    lines += ["", f"Partial POTSI from predicted landmarks: AUC {s.num(c, 'ppotsi_auc_predicted', fmt='.2f')}; "
              f"predicted shoulder obliquity against the shoulder-tilt knob: r "
              f"{s.num(c, 'shoulder_obliquity_r_predicted', fmt='.2f')} (frontal-plane indices are measured in the "
              f"image plane, where a depth looked up beside a silhouette landmark cannot tilt them)."
              + (f" From true landmarks the partial POTSI reaches AUC "
                 f"{s.num(c, _first_key(s, c, 'ppotsi_auc_true_landmarks_'), fmt='.2f')}; with one landmark "
                 f"predicted at a time the costliest, `{s.value(c, 'ppotsi_costliest_landmark')}`, takes "
                 f"{s.num(c, _first_key(s, c, 'ppotsi_costliest_auc_lost_'), fmt='.3f')} of that AUC, so what "
                 f"sinks it is the errors of all its landmarks together, not one of them "
                 f"(`tables/clinical/ppotsi_substitution.md`)." if s.has(c, "ppotsi_costliest_landmark") else "")
              + " `tables/clinical/screening.md` sets a "
              "published depth-sensor screening beside these (real patients, radiographic Cobb angles: a different "
              "population).", "",
              _figure(s.reports, "figures/clinical/angle_agreement.png", "estimated against true curve angle"), ""]
    for threshold in s.value(c, "screening_deg"):
        lines += [_figure(s.reports, f"figures/clinical/screening_roc_{threshold:g}deg.png", "ROC curves"), ""]
    return lines


def _first_key(s: Sources, path: str, prefix: str) -> str:
    """The first key of a summary that starts with ``prefix`` (e.g. the lowest screening threshold's)."""
    return next(k for k in s.value(path) if k.startswith(prefix))


LIMITATIONS = ["## Limitations", "",
               "- Every subject is synthetic: one body model, one renderer, one room; the sensor noise is a model of "
               "the Kinect's, and the labels are exact. Real recordings would add clothing, hair, palpation error "
               "and sensors that differ.",
               "- The curve truth is the rig's bone bend, and the deformities follow the generator's own laws (the "
               "rotation and the shoulder tilt follow the curve by construction), so the screening numbers say how "
               "well the pipeline reads this generator, not patients.",
               "- The default profile is sized for a small CPU (input, stages, width and epochs below the paper's); "
               "`profiles/paper.yaml` is the paper's protocol for a GPU.", ""]


def _section_notebooks(reports: Path, backbones: list[str]) -> list[str]:
    found = _run_notebooks(reports, backbones)
    if found:  # this page's own notebook is written by the run that writes the page, outside the folder it reads
        found.append(OWN_NOTEBOOK)
    lines = ["## The executed notebooks", ""]
    for rel in found:
        stem = Path(rel).stem
        what = next((v for k, v in NOTEBOOKS.items() if stem == k or stem.startswith(k + "_")), "")
        lines.append(f"- [`{Path(rel).name}`]({rel}){': ' + what if what else ''}")
    if not found:
        lines.append("*(no executed notebooks in this run's reports)*")
    return [*lines, ""]


def build(reports: str | Path, backbones: list[str], root: str | Path | None = None,
          profile: str = "params.yaml", flip_test: bool = False) -> tuple[str, dict]:
    """The page (Markdown) and its record of sources, from the reports folder of one run (``flip_test``: the run's
    ``evaluate.flip_test``, which the method says)."""
    reports = Path(reports)
    s = Sources(reports)
    header = ["# Back-surface landmarks from depth images: what this study found", "",
              f"Generated by the `front_page` stage of `dvc repro` from this run's `summaries/` and `tables/` "
              f"(profile `{profile}`, code at commit `{_commit(Path(root or reports.parent))}`, generated on "
              f"{_device()}). The study reproduces a landmark detector for the human back (OpenPose-style "
              f"network on VGG-19, ResNet-50 and ResNet-152 features; ten landmarks from the vertebra prominens "
              f"to the dimples of the pelvis) and asks what a clinician would: how many millimetres, on whom, and "
              f"whether a curve of the spine can be screened from them.", ""]
    header += _run_time(s, reports, backbones)
    body = [*header, *_section_data(s), *_section_method(s, backbones, flip_test), *_section_paper(s),
            *_section_mm(s, backbones), *_section_leakage(s), *_section_generalise(s, backbones),
            *_section_clinical(s), *LIMITATIONS, *_section_notebooks(reports, backbones)]
    page = "\n".join(body).rstrip("\n") + "\n"
    return page, {"numbers": s.numbers, "tables": s.tables}


def write(reports: str | Path, backbones: list[str], root: str | Path | None = None,
          profile: str = "params.yaml", flip_test: bool = False) -> Path:
    """Write ``reports/README.md`` and ``reports/README.sources.json``, each whole or not at all."""
    reports = Path(reports)
    page, sources = build(reports, backbones, root, profile, flip_test)
    write_json(reports / SOURCES, sources)
    return write_text(reports / PAGE, page)


def check(reports: str | Path) -> list[str]:
    """Every disagreement between ``reports/README.md`` and its sources (empty when the page says what the files
    say): each recorded number re-read and re-formatted, each included table present verbatim."""
    reports = Path(reports)
    page = (reports / PAGE).read_text(encoding="utf-8")
    sources = json.loads((reports / SOURCES).read_text(encoding="utf-8"))
    s, problems = Sources(reports), []
    for n in sources["numbers"]:
        if "library" in n:
            text = LIBRARY_WORDS[n["library"]](*n["args"]) if n["library"] in LIBRARY_WORDS else ""
            if n["text"] not in text or n["text"] not in page:
                problems.append(f"{n['library']}{tuple(n['args'])}: does not give {n['text']} on the page")
            continue
        if "sum_of" in n:
            v = sum(float(s.value(rel, *keys)) for rel, keys in n["sum_of"])
            where = f"sum of {[rel for rel, _ in n['sum_of']]}"
        else:
            v, where = s.value(n["source"], *n["keys"]), f"{n['source']} {n['keys']}"
        if "scale" in n:
            v = v * n["scale"]
        text = "n/a" if v is None or (isinstance(v, float) and v != v) else format(v, n["format"])
        if text != n["text"] or text not in page:
            problems.append(f"{where}: the file gives {text}, the page {n['text']}")
    for rel in sources["tables"]:
        if s.table(rel) not in page:
            problems.append(f"{rel}: not on the page as it is in the file")
    return problems



_REF = r"[\d\-]+(?: to [\d\-]+)?(?:, [\d\-]+)*"
ALLOWED = re.compile("|".join([
    r"VGG-19", r"ResNet-50", r"ResNet-152", r"\b(?:vgg19|resnet50|resnet152)\b", r"Kinect v2", r"\b3D\b", r"\(95% CI",
    rf"\bSec\. {_REF}", rf"\bTables? {_REF}", rf"\bFigures? {_REF}", rf"\bFig\. {_REF}", r"\beq\. \d+", r"\bFinding \d",
    r"\d+ CPU cores", r"within \d+ mm"]))
"""Figures on the page that are not results: names (VGG-19, Kinect v2), references into the paper, headings, the
machine's core count, the success threshold a column is named after ("within 10 mm")."""


def unsourced_numbers(reports: str | Path) -> list[str]:
    """Figures on ``reports/README.md`` that no source explains: the page minus its included tables, code spans,
    link targets, the recorded numbers and the :data:`ALLOWED` names.  Empty when no number was typed by hand."""
    reports = Path(reports)
    s = (reports / PAGE).read_text(encoding="utf-8")
    sources = json.loads((reports / SOURCES).read_text(encoding="utf-8"))
    for rel in sources["tables"]:
        s = s.replace((reports / rel).read_text(encoding="utf-8").strip("\n"), " ")
    s = re.sub(r"`[^`]*`", " ", s)  # code spans: file and key names
    s = re.sub(r"\]\([^)]*\)", "] ", s)  # link targets
    s = ALLOWED.sub(" ", s)  # first: a recorded number may also be a digit of a name ("Sec. 7-4")
    for text in sorted({n["text"] for n in sources["numbers"]}, key=len, reverse=True):
        s = re.sub(rf"(?<![\w.]){re.escape(text)}(?![\w]|\.\d)", " ", s)
    return sorted(set(re.findall(NUMBER, s)))


def links(reports: str | Path) -> list[str]:
    """The relative targets of every link and picture on ``reports/README.md``."""
    page = (Path(reports) / PAGE).read_text(encoding="utf-8")
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", page) if "://" not in t and not t.startswith("#")]
