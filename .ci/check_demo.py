"""Does the demo show learning? Checks Table 1's reproduced rows of a demo results folder.

    python .ci/check_demo.py results/demo
    python .ci/check_demo.py results/ci --no-caption-controls

For every model of Table 1's main group: three seeds; per seed a prediction sd > 0 and an RMSE
below the test labels' sd (computed here from each run's predictions.csv, not taken from the
suite's metrics); at least 100 test images; SRCC std over seeds at most 0.05. Then Table 5's
caption controls (unless --no-caption-controls: CI's reduced demo leaves them out): a real-caption
reference and a shuffled and a constant row per control group, each on three seeds with an SRCC
and a PLCC verdict against the reference. Prints one line per model / control and exits 1 naming
every failed check (a model in KNOWN_FAILURES is reported, not fatal).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

MIN_TEST_IMAGES = 100
MAX_SRCC_STD = 0.05
#: Models whose failures are known and open: reported, not fatal (workflow/config/demo.yaml).
KNOWN_FAILURES: dict[str, str] = {}

results = Path(sys.argv[1])
CHECK_CONTROLS = "--no-caption-controls" not in sys.argv[2:]
CONTROL_ROWS = ("real captions", "shuffled captions", "constant captions")
VERDICTS = {"better", "worse", "not distinguishable"}
table = pd.read_csv(results / "table1.csv", keep_default_na=False)
rows = table[
    (table["status"] == "reproduced") & (table["group"] == "") & (table["metric"] == "srcc")
]
failures = []
for model in rows["row"]:
    runs = sorted((results / "runs").glob(f"*/official/{model}/default/seed*/predictions.csv"))
    srccs = []
    for path in runs:
        p = pd.read_csv(path)
        target, pred = p["target"].to_numpy(), p["prediction"].to_numpy()
        rmse = float(np.sqrt(np.mean((pred - target) ** 2)))
        label_sd = float(target.std())
        srccs.append(pd.Series(pred).rank().corr(pd.Series(target).rank()))
        seed = path.parent.name
        print(
            f"{model} {seed}: n {len(p)}  pred sd {pred.std():.4f}  RMSE {rmse:.4f}  "
            f"label sd {label_sd:.4f}  SRCC {srccs[-1]:.4f}"
        )
        if len(p) < MIN_TEST_IMAGES:
            failures.append(f"{model} {seed}: {len(p)} test images < {MIN_TEST_IMAGES}")
        if not pred.std() > 0:
            failures.append(f"{model} {seed}: constant predictions")
        if not rmse < label_sd:
            failures.append(f"{model} {seed}: RMSE {rmse:.4f} >= label sd {label_sd:.4f}")
    if len(runs) != 3:
        failures.append(f"{model}: {len(runs)} seeds, expected 3")
    elif np.std(srccs, ddof=1) > MAX_SRCC_STD:
        failures.append(f"{model}: SRCC std {np.std(srccs, ddof=1):.4f} > {MAX_SRCC_STD}")
    else:
        print(f"{model}: SRCC {np.mean(srccs):.4f} ± {np.std(srccs, ddof=1):.4f} over seeds")
if rows.empty:
    failures.append(f"{results / 'table1.csv'}: no reproduced rows")
t5_path = results / "table5.csv"
if CHECK_CONTROLS and not t5_path.is_file():
    failures.append(f"{t5_path}: missing (Table 5 with its caption controls)")
elif CHECK_CONTROLS:
    t5 = pd.read_csv(t5_path, keep_default_na=False)
    t5 = t5[
        t5["group"].astype(str).str.startswith("captions, ") & t5["metric"].isin(["srcc", "plcc"])
    ]
    if t5.empty:
        failures.append(f"{t5_path}: no caption-control rows (experiments.table5.caption_controls)")
    for group, part in t5.groupby("group", sort=False):
        for row in CONTROL_ROWS:
            lines = part[part["row"] == row]
            if len(lines) != 2 or set(pd.to_numeric(lines["n"])) != {3}:
                failures.append(f"{t5_path}: {group}: {row!r} lacks SRCC/PLCC over 3 seeds")
                continue
            wanted = {"reference"} if row == CONTROL_ROWS[0] else VERDICTS
            if not set(lines["verdict"]) <= wanted:
                failures.append(
                    f"{t5_path}: {group}: {row!r} verdicts {sorted(set(lines['verdict']))}"
                )
            srcc = lines[lines["metric"] == "srcc"].iloc[0]
            print(
                f"{group}: {row}: SRCC {float(srcc['mean']):.4f} ({srcc['verdict']}) {srcc['note']}"
            )
for model, reason in KNOWN_FAILURES.items():
    known = [f for f in failures if f.startswith(f"{model} ") or f.startswith(f"{model}:")]
    if known:
        print(f"known failure, not fatal: {model}: {reason}\n  " + "\n  ".join(known))
    elif model in set(rows["row"]):
        print(f"note: {model} passes every check now; take it off KNOWN_FAILURES")
    failures = [f for f in failures if f not in known]
if failures:
    print("demo check FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
known = sorted(set(KNOWN_FAILURES) & set(rows["row"]))
print(
    "demo check passed" + (f" (known failures reported above: {', '.join(known)})" if known else "")
)
