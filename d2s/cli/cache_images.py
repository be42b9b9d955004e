"""``d2s cache-images``: build the decoded-image caches a training run reads (d2s/data/cache.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: Keys that do not change which images a run reads; set so any run's overrides are accepted.
_DATA_ONLY = {"model": "d2s-r18", "use_eal": False, "use_fal": False, "image_cache_device": "never"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cache-images",
        help="decode and resize a run's images once into the shared image cache",
        description="Build (or check) the decoded-image cache of every split the run given by "
        "the config keys reads (train, validation, test) at its image_size, under image_cache "
        "(default resources/cache/images). A current cache is left as is; a stale one (an image "
        "changed, added or removed) is rebuilt. Only the data keys matter (dataset, root, "
        "split_dir, *_split, select, image_size, image_cache); the others are accepted and ignored.",
    )
    p.add_argument("--config", type=Path, help="YAML file of config keys")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config keys, e.g. root=DIR image_size=512",
    )
    p.add_argument("--record", type=Path, help="write a JSON listing the cache files here")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="replace a --record not made here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.core.io import atomic_write_text
    from d2s.data import DatasetError
    from d2s.train.checks import ConfigError
    from d2s.train.config import parse_overrides
    from d2s.train.config_file import load_config
    from d2s.train.data import open_split_cache

    if args.record:
        from d2s.core.outputs import check_output

        def ours(path: Path) -> bool:  # a record of this command lists its caches
            try:
                return "caches" in json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, TypeError):
                return False

        check_output(
            args.record, command="cache-images", force=args.force, ours=ours, option="--record"
        )
    try:
        overrides = {**parse_overrides(args.overrides), **_DATA_ONLY}
        config = load_config(args.config, overrides)
        if config.image_cache == "off":
            raise ConfigError("config key 'image_cache' is 'off': there is no cache to build")
        splits = [config.train_split, config.test_split]
        if config.select == "val" and config.val_split:
            splits.insert(1, config.val_split)
        caches = [
            open_split_cache(config, split, progress=not args.no_progress) for split in splits
        ]
    except (ConfigError, DatasetError) as err:
        raise CLIError(str(err)) from None
    rows = [
        {
            "split": split,
            "cache": str(cache.path),
            "images": len(cache.rows),
            "bytes": cache.nbytes,
            "built": cache.stale_reason,
        }
        for split, cache in zip(splits, caches, strict=True)
    ]
    for row in rows:
        state = f"built ({row['built']})" if row["built"] else "current"
        print(
            f"{row['split']}: {row['images']} images, {row['bytes'] / 2**20:.1f} MiB, {state} "
            f"→ {row['cache']}"
        )
    if args.record:
        atomic_write_text(
            json.dumps({"image_size": config.image_size, "caches": rows}, indent=1), args.record
        )
    return 0
