"""The paper's published numbers (Tables 1-2) and this study's results set beside them, saying what differs."""

from __future__ import annotations

import pandas as pd

from backsurface.core.landmarks import KEYS
from backsurface.data import datasets
from backsurface.data.preprocess import describe_crop

# The paper's published numbers (Tables 1-2), for the side-by-side comparison; VGG-19 had no row.
PAPER = {
    ("pck", "train", "resnet50"): [74, 97, 82, 72, 49, 68, 89, 73, 81, 76.8, 76.1],
    ("pck", "train", "resnet152"): [76, 97, 86, 80, 56, 74, 89, 79, 83, 80, 80],
    ("pck", "test", "resnet50"): [71, 89, 81, 66, 46, 60.9, 88.8, 71, 78, 65.7, 71.7],
    ("pck", "test", "resnet152"): [75, 90, 83.4, 75, 54, 72, 84, 75, 80, 73, 76.1],
    ("pdj", "train", "resnet50"): [90.6, 97, 86.7, 81, 61.2, 67, 89.1, 94, 91, 93.6, 85.1],
    ("pdj", "train", "resnet152"): [92, 97, 88, 85, 66, 69, 91, 96, 93, 92, 86.9],
    ("pdj", "test", "resnet50"): [86, 92, 82.7, 73, 57.8, 56, 87, 82, 85.6, 91.6, 79.4],
    ("pdj", "test", "resnet152"): [88, 93, 84, 74, 58, 61, 89, 84, 88, 90, 80.9],
}
"""Paper tables transcribed column by column in this study's key order (VP, IF=NC, LSH, RSH, LS, RS, LW, RW,
LPSIS, RPSIS, Total).  The only numbers in this study not produced by a run: they are the paper's."""


def comparison_table(ours: pd.DataFrame, metric: str) -> pd.DataFrame:
    """This study's rows next to the paper's published rows for the same metric."""
    paper_rows = [{"source": "paper", "split": sp, "backbone": bb, **dict(zip((*KEYS, "Total"), v))}
                  for (m, sp, bb), v in PAPER.items() if m == metric]
    mine = ours.assign(source="this study")
    df = pd.concat([pd.DataFrame(paper_rows), mine], ignore_index=True)
    cols = ["split", "backbone", "source", *KEYS, "Total"]
    return df[cols].sort_values(["split", "backbone", "source"], ascending=[False, True, True]).reset_index(drop=True)


def comparison_paragraph(best: str, test: dict, weights: str, params, floor: dict | None = None,
                         config: dict | None = None) -> str:
    """Markdown: this study's best test numbers against the paper's, what differs, per landmark (from the run).

    ``floor`` is the score of the label heatmaps (:data:`FLOOR`) on the same split, if computed; ``config`` the
    training configuration on the best model's card (:mod:`backsurface.net.model_file`), which the training
    details are read from (else from ``params``)."""
    pck, pdj = test["pck"]["Total"], test["pdj"]["Total"]
    _, pl, ph = test["pck_ci"]
    _, dl, dh = test["pdj_ci"]
    paper_pck, paper_pdj = PAPER[("pck", "test", "resnet152")][-1], PAPER[("pdj", "test", "resnet152")][-1]
    per = {k: v for k, v in test["pdj"].items() if k != "Total"}
    hardest = sorted(per, key=per.get)[:2]
    p = params.preprocess
    t = config or {"stages": params.train.stages, "width": params.train.width, "epochs": params.train.epochs_of(best),
                   "learning_rate": params.train.rate_of(best), "lr_schedule": params.train.schedule_of(best),
                   "batch_size": params.train.batch_size}  # a card older than the schedule keys: constant rate
    floor_note = "nothing (no floor computed)"
    if floor is not None:
        fe = floor["errors"]
        floor_note = (f"{fe[hardest[0]]['mean_mm']:.1f} mm ({hardest[0]}) and {fe[hardest[1]]['mean_mm']:.1f} mm "
                      f"({hardest[1]}) in 3D from the annotated mesh point, while its in-plane and surface errors are "
                      f"{floor['inplane_mre_mm_ci'][0]:.2g} mm and {floor['surface_mre_mm_ci'][0]:.2g} mm")
    i, il, ih = test["inplane_mre_mm_ci"]
    crop = describe_crop(p.crop) + (" letterboxed, as the paper" if p.crop == "none" else
                                    " (the paper uses the whole frame)")
    a = params.augment
    copies = datasets.describe_random_copies(a.copies, a.hflip, a.rotate_deg, a.scale, a.depth_noise)
    verdict = "above" if min(pck - paper_pck, pdj - paper_pdj) > 0 else "not above both of"
    return (
        f"**Best backbone ({best}) on the test split:** PCK@{params.evaluate.pck_mm:g}mm {pck:.1f}% "
        f"(95% CI {pl:.1f}–{ph:.1f}), PDJ {pdj:.1f}% (95% CI {dl:.1f}–{dh:.1f}), mean 3D error "
        f"{test['mean_error_mm_ci'][0]:.1f} mm — {verdict} the paper's ResNet-152 test PCK {paper_pck}% and PDJ "
        f"{paper_pdj}%. PCK and PDJ here are computed on the 3D error against the annotated point, as the only "
        f"reading of the paper's millimetre thresholds; the paper reports no millimetre error. This study's "
        f"headline is the in-plane error: {i:.1f} mm (95% CI {il:.1f}–{ih:.1f}), median "
        f"{test['inplane']['Total']['median_mm']:.1f} mm, {test['inplane']['Total']['within_10mm']:.0f}% within "
        f"10 mm.\n\n"
        f"*What differs.* The cohort is synthetic ({params.acquire.cohort.n_subjects} anny bodies rendered as Kinect "
        f"v2 depth with a sensor noise model, deformity share {params.acquire.cohort.deformity_share:g}), not the "
        f"paper's 105 volunteers; its landmarks are mesh vertices chosen by fixed anatomical rules, so the label "
        f"noise of manual marking is absent and the bodies share one posture family. Weights: {weights}. "
        f"Input {p.input_size}² (paper 368²), crop: {crop}, {t['stages']} stages of {t['width']} channels (paper 7 of "
        f"128), {t['epochs']} epochs (paper 70), Adam at {t['learning_rate']:g} on a "
        f"{t.get('lr_schedule', 'constant')} schedule (paper 1e-4, constant), batch {t['batch_size']}, training "
        f"computed in {t.get('precision', 'float32')}; the "
        f"paper's four translations of every frame and random copies: {copies} (paper: none; each copy is one "
        f"more image in every epoch).\n\n"
        f"*Per landmark.* The hardest landmarks here by PDJ are {hardest[0]} ({per[hardest[0]]:.1f}%) and "
        f"{hardest[1]} ({per[hardest[1]]:.1f}%), landmarks on the silhouette that the sensor sees edge-on (the "
        f"'labels (floor)' row: even the true pixel measures {floor_note}); the paper's hardest were the "
        f"scapulae (LS 58%, RS 61% PDJ), here LS {per['LS']:.1f}% and RS {per['RS']:.1f}%, and its easiest "
        f"the natal cleft (93%), here NC {per['NC']:.1f}%.\n\n"
        f"*How to read it.* At 150 mm (PCK) and 0.2 torso diameters (PDJ, about 100 mm) the thresholds are far "
        f"above this cohort's errors, so both saturate; the millimetre errors and the PCK curve (AUC) separate "
        f"the backbones, and the comparison with the paper says more about the data than about the networks."
    )
