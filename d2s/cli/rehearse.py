"""``d2s rehearse``: the paper path rehearsed offline on hub-shaped files (docs/rehearsal.md).

    d2s rehearse hub DIR      weight files under the paper path's hub ids (random values), in an
                              HF cache DIR/hf and a torch hub folder DIR/torch; each is then
                              loaded through the suite's own loaders, offline; BLIP and
                              Florence-2 in the same cache, and the fetched sets' archives
                              in a local mirror DIR/mirror (D2S_MIRROR)
    d2s rehearse data DIR     IC9600 / Nagle4k / VISC-C / VISC-CI in their layouts, small
    d2s rehearse check ...    every rule of the paper DAG ran; every run recorded what it loaded

``make rehearsal`` runs all three around the paper configuration (workflow/config/rehearsal.yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

#: Images of each fetched set in the rehearsal's mirror (Savoias: per category, 7 categories).
MIRROR_IMAGES = {"pyiqa": 8, "savoias": 2}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "rehearse",
        help="rehearse the paper path offline (hub-shaped files, real-shaped data, checks)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    hub = sub.add_parser("hub", help="write and verify the hub-shaped weight files")
    hub.add_argument("dir", type=Path)
    hub.add_argument("--no-verify", action="store_true", help="write only")
    hub.set_defaults(func=run_hub)
    data = sub.add_parser("data", help="write the user-supplied datasets, small and real-shaped")
    data.add_argument("dir", type=Path)
    data.add_argument("--train", type=int, default=24, help="IC9600 training images")
    data.add_argument("--test", type=int, default=8, help="IC9600 test images")
    data.add_argument("--user", type=int, default=8, help="images of each other set")
    data.set_defaults(func=run_data)
    check = sub.add_parser("check", help="rule coverage and load records of a rehearsal")
    check.add_argument("--results", type=Path, required=True, help="the rehearsal's results")
    check.add_argument("--configfile", action="append", default=[], help="the rehearsal overlay")
    check.add_argument("--device", default=None, help="the device every run must have used")
    check.add_argument(
        "--runs-only", action="store_true", help="the runs' load records only, not rule coverage"
    )
    check.set_defaults(func=run_check)


def run_hub(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.ops.rehearsal.archives import write_pyiqa_archives, write_savoias_archive
    from d2s.ops.rehearsal.hub import environment, hf_home, mirror_home, write_hub
    from d2s.ops.rehearsal.transformers_hub import write_blip, write_florence

    written = write_hub(args.dir)
    written["blip"] = str(write_blip(hf_home(args.dir)))
    written["florence"] = str(write_florence(hf_home(args.dir)))
    mirror = mirror_home(args.dir)
    for name, path in write_pyiqa_archives(mirror, MIRROR_IMAGES["pyiqa"]).items():
        written[name] = str(path)
    written["savoias"] = str(write_savoias_archive(mirror, MIRROR_IMAGES["savoias"]))
    print(json.dumps(written, indent=2))
    if args.no_verify:
        return 0
    env = {**os.environ, **environment(args.dir)}
    done = subprocess.run(
        [sys.executable, "-m", "d2s.ops.rehearsal.verify"], env=env, capture_output=True, text=True
    )
    if done.returncode:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        raise CLIError(lines[-1].removeprefix("d2s rehearse: error: "))
    print(done.stdout.strip())
    return 0


def run_data(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.ops.rehearsal.data import write_data

    try:
        written = write_data(args.dir, args.train, args.test, args.user)
    except FileExistsError as err:
        raise CLIError(str(err)) from None
    print(json.dumps(written, indent=2))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.ops.rehearsal import RehearsalError
    from d2s.ops.rehearsal.coverage import check, check_runs

    try:
        if args.runs_only:
            summary = {"runs": check_runs(args.results, args.device)}
        else:
            summary = check(args.results, args.configfile, args.device)
    except RehearsalError as err:
        raise CLIError(str(err)) from None
    print(json.dumps(summary, indent=2))
    return 0
