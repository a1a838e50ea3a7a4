"""The leak check on every data set we have: no honest one may trip it, the planted leaks must.

For each data set the training rows are loaded as ``retain train`` loads them, then the
cross-validated check (``training.leak_probe``) runs on them with the default limits: its top
column (by gain), that column's own ROC-AUC, the drop-column effect, the largest share of the
others' gap any column or pair closes, the verdict and the seconds it took beside the seconds the
data took to load. Honest sets: the demo retail and subscription businesses and the demo CRM
exports (``retain demo-data``, 5,000 customers, seed 42), CDNOW (``/work/shared`` or
``../shared``; skipped, saying so, when absent), and the synthetic exports of ``tests/exports.py``
as ``retain init`` maps them. Planted: the telecom export with a post-outcome revenue column right
for 80% of customers, and with a revenue column whose ratio to the monthly charge leaks.

Run with ``python experiments/leak_check.py [OUT.md]`` (default
``experiments/results/leak_check.md``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
CDNOW = (ROOT.parent / "shared" / "data" / "cdnow", ROOT.parents[1] / "shared" / "data" / "cdnow")
DEMO_CUSTOMERS, DEMO_SEED = 5000, 42


def experiment(name: str, demo: Path, cdnow: Path) -> Any:
    """``experiments/<name>.yaml`` with its data paths pointed at ``demo`` and ``cdnow``."""
    from core.config_file import ConfigFile, parse_config

    raw = dict(ConfigFile.read(ROOT / "experiments" / f"{name}.yaml").raw)
    data = {}
    for key, source in raw["data"].items():
        path = str(source["path"])
        path = path.replace("../data/demo", str(demo)).replace(
            "../../shared/data/cdnow", str(cdnow)
        )
        data[key] = {**source, "path": path}
    return parse_config({**raw, "data": data}).resolved(ROOT / "experiments")


def export_config(frame: Any, folder: Path, file: str, later: Any = None) -> Any:
    """The config ``retain init`` writes for ``frame`` saved as ``folder/file``; with ``later``,
    the export is then replaced by that one (a later export with one more column)."""
    import contextlib
    import io

    from core.config_file import load_config
    from retain.init_command import init_command

    folder.mkdir(parents=True)
    path = folder / file
    if file.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    out = folder / "config.yaml"
    with contextlib.redirect_stdout(io.StringIO()):
        init_command(path, out=out, name=folder.name)
    if later is not None:
        later.to_csv(path, index=False)
    return load_config(out)


def measure(name: str, config: Any) -> dict[str, Any]:
    """One row of the table: the check's figures on ``config``'s training rows."""
    from training.dataset import load_training_data
    from training.leak_probe import probe

    quiet = config.model_copy(
        update={"leakage": config.leakage.model_copy(update={"probe_features": 0})}
    )
    started = time.perf_counter()
    data = load_training_data(quiet, progress=False)
    loading = time.perf_counter() - started
    rows = data.part("train")
    found = probe(rows, data.features, config.leakage, config.seed)
    top = found.carries[0] if found.carries else None
    stopped = found.stopped(config.leakage)
    most = max(found.carries, key=lambda c: c.share, default=None)
    return {
        "data set": name,
        "training rows (sampled)": f"{len(rows):,} ({found.rows:,})",
        "CV ROC-AUC": f"{found.full_auc:.3f}",
        "top column": top.name if top else "",
        "own AUC": f"{top.own_auc:.3f}" if top else "",
        "drop effect": f"{top.drop_effect:+.3f}" if top else "",
        "largest share closed": f"{most.share:.0%} ({most.name})" if most else "",
        "verdict": ("stopped: " + ", ".join(c.name for c in stopped)) if stopped else "passes",
        "check s": f"{found.seconds:.1f}",
        "load s": f"{loading:.1f}",
    }


def main(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from core.settings import disable_telemetry
    from retain.demo_data import write_demo
    from tests.exports import (
        ibm_telco,
        retail_log,
        telecom_churn,
        with_partial_leak,
        with_ratio_leak,
    )
    from training.evaluation import markdown_table

    disable_telemetry()
    rows = []
    skipped = []
    with tempfile.TemporaryDirectory() as home:
        work = Path(home)
        demo = work / "demo"
        write_demo(
            demo,
            customers=DEMO_CUSTOMERS,
            seed=DEMO_SEED,
            businesses=("retail", "subscription", "crm"),
        )
        cdnow = next((p for p in CDNOW if (p / "CDNOW_master.txt").exists()), None)
        names = ["demo", "demo_subscription", "crm", "crm_monthly"]
        if cdnow is not None:
            names.append("cdnow")
        else:
            skipped.append("CDNOW: the master log is not under ../shared or /work/shared")
        for name in names:
            config = experiment(name, demo, cdnow or work)
            rows.append(measure(f"{name} (`experiments/{name}.yaml`)", config))
            print(rows[-1])
        telco = ibm_telco(customers=3000)
        exports = [
            ("retail log (300 customers)", retail_log(), "Online Retail.csv"),
            ("IBM-style telecom (3,000)", telco, "Telco-Customer-Churn.csv"),
            ("3,333-style telecom (3,333)", telecom_churn(customers=3333), "churn.parquet"),
        ]
        planted = [
            ("planted: telecom + partial leak", with_partial_leak(telco)),
            ("planted: telecom + ratio leak", with_ratio_leak(telco)),
        ]
        for i, (name, frame, file) in enumerate(exports):
            config = export_config(frame, work / f"export{i}", file)
            rows.append(measure(name, config))
            print(rows[-1])
        for i, (name, frame) in enumerate(planted):
            config = export_config(telco, work / f"planted{i}", "telco.csv", later=frame)
            rows.append(measure(name, config))
            print(rows[-1])
    text = "\n".join(
        [
            "# The leak check on every data set",
            "",
            "Written by `python experiments/leak_check.py`. The cross-validated leak check "
            "(`training/leak_probe.py`: a small LightGBM, 3 folds, on up to 4,000 training "
            "rows) with the default limits (`leakage.max_carry` 0.5, `leakage.min_drop` 0.03). "
            "Top column: the first by gain; drop effect: the cross-validated ROC-AUC it adds to "
            "the other columns; largest share closed: the most any tested column or pair closes "
            "of the ROC-AUC gap to 1 the others leave (stopped at 50%). `check s` is the time the "
            "check adds to training, `load s` the time the training rows took to load.",
            "",
            markdown_table(pd.DataFrame(rows)),
            "",
            *[f"Skipped: {s}." for s in skipped],
        ]
    )
    from experiments.publish import write_result

    write_result(out, text + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "leak_check.md")
