"""Screenshots of what a reviewer opens: the front page rendered as HTML, and ``dvc plots show`` drawn, both in
headless Chromium, written to ``docs/``.

    python tools/screenshots.py [--out docs] [--chromium /usr/bin/chromium]

A development tool, not a pipeline stage: it needs Debian's ``chromium`` (``apt-get install chromium``) and, once,
the npm registry (``npm pack`` fetches marked, vega, vega-lite and vega-embed into ``build/screens/vendor``), since
neither the page nor DVC's plots may load scripts from the network here.  The front page is rendered from
``reports/README.md`` with marked (GitHub-flavoured Markdown) under a ``<base>`` at ``reports/``, so its figures and
links resolve as on the repository host; the plots with ``dvc plots show --html-template`` pointing at the local
scripts.  Writes ``docs/front_page.png`` and ``docs/dvc_plots.png``; exits 2 with one line when a tool is missing.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "screens"
VENDOR = BUILD / "vendor"
PACKAGES = {"marked@15": "marked.min.js", "vega@5": "build/vega.min.js", "vega-lite@5": "build/vega-lite.min.js",
            "vega-embed@6": "build/vega-embed.min.js"}
LOSS = "*/plots/metrics/loss/total.tsv"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--virtual-time-budget=15000"]


class ToolError(RuntimeError):
    """A missing tool or input; the message says which."""


def vendor() -> dict[str, Path]:
    """The four scripts, fetched with ``npm pack`` the first time."""
    VENDOR.mkdir(parents=True, exist_ok=True)
    out = {}
    for spec, inner in PACKAGES.items():
        name = spec.split("@")[0]
        target = VENDOR / f"{name}.min.js"
        if not target.is_file():
            if shutil.which("npm") is None:
                raise ToolError("npm is needed once to fetch the page's scripts (marked, vega)")
            packed = subprocess.run(["npm", "pack", spec, "--silent"], cwd=VENDOR, capture_output=True, text=True,
                                    timeout=300)
            if packed.returncode != 0:
                raise ToolError(f"npm pack {spec}: {packed.stderr.strip().splitlines()[-1:]}")
            archive = VENDOR / packed.stdout.strip().splitlines()[-1]
            with tarfile.open(archive) as tar:
                member = tar.extractfile(f"package/{inner}")
                if member is None:
                    raise ToolError(f"{archive.name}: no package/{inner}")
                target.write_bytes(member.read())
            archive.unlink()
        out[name] = target
    return out


def shoot(chromium: str, page: Path, png: Path, width: int, height: int) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    profile = BUILD / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    run = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                          f"--screenshot={png}", page.as_uri()], capture_output=True, text=True, timeout=180)
    if run.returncode != 0 or not png.is_file():
        raise ToolError(f"chromium could not draw {page}: {run.stderr.strip()[-300:]}")
    return png


def front_page_html(scripts: dict[str, Path]) -> Path:
    readme = ROOT / "reports" / "README.md"
    if not readme.is_file():
        raise ToolError(f"{readme}: not found (dvc repro writes it)")
    page = BUILD / "front_page.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<base href='{(ROOT / 'reports').as_uri()}/'>"
        "<style>body{font:15px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;"
        "margin:24px auto;color:#1f2328}table{border-collapse:collapse;margin:12px 0;font-size:13px}"
        "th,td{border:1px solid #d1d9e0;padding:4px 8px}th{background:#f6f8fa}img{max-width:100%}"
        "code{background:#eff1f3;padding:1px 4px;border-radius:4px}</style>"
        f"<script src='{scripts['marked'].as_uri()}'></script></head><body><div id='page'></div><script>"
        f"document.getElementById('page').innerHTML = marked.parse({json.dumps(readme.read_text('utf-8'))});"
        "</script></body></html>", encoding="utf-8")
    return page


def plots_html(scripts: dict[str, Path]) -> Path:
    # the study's curves first, then each backbone's total training loss (every branch's curve is in `dvc plots show`)
    totals = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "reports" / "train").glob(LOSS))
    targets = ["pck_curve", "inplane_error_cdf", "reports/plots/clinical", *totals]
    template = BUILD / "plots_template.html"
    tags = "".join(f"<script src='{scripts[n].as_uri()}'></script>" for n in ("vega", "vega-lite", "vega-embed"))
    template.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>dvc plots show</title>{tags}"
                        "<style>body{font-family:sans-serif}</style></head><body>"
                        f"<h3>{html.escape('dvc plots show ' + ' '.join(targets))}</h3>{{plot_divs}}</body></html>",
                        encoding="utf-8")
    out = BUILD / "plots"
    shutil.rmtree(out, ignore_errors=True)
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    run = subprocess.run([dvc, "plots", "show", *targets, "-o", str(out), "--html-template", str(template)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    page = out / "index.html"
    if run.returncode != 0 or not page.is_file():
        raise ToolError(f"dvc plots show failed: {run.stderr.strip()[-300:]}")
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/screenshots.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args(argv)
    try:
        if not Path(args.chromium).is_file():
            raise ToolError(f"{args.chromium}: no Chromium (apt-get install chromium)")
        scripts = vendor()
        for png in (shoot(args.chromium, front_page_html(scripts), args.out / "front_page.png", 1200, 8200),
                    shoot(args.chromium, plots_html(scripts), args.out / "dvc_plots.png", 1400, 2600)):
            print(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)
    except (ToolError, OSError, subprocess.SubprocessError) as exc:
        print(f"tools/screenshots.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
