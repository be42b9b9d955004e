"""``d2s demo``: one quick D2S-R18 run on the embedded demo data, offline on a CPU.

A first look (``make demo`` runs the whole workflow, docs/demo.md): it writes the procedural
demo dataset, embeds its scene descriptions with the (random-weight) CLIP text tower,
trains D2S-R18 with MSE + EAL + FAL for a few epochs and reports SRCC / PLCC / RMSE / RMAE on the
demo test split. Random weights everywhere (no hub offline): it shows the machinery end to end,
not the paper's effect sizes — the summary says so.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from d2s.method.alignment import EAL_MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train and evaluate D2S-R18 on the embedded demo data (offline, CPU)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder")
    p.add_argument("--size", type=int, default=320, help="number of demo images")
    p.add_argument("--image-size", type=int, default=96, help="training resolution (px)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eal-mode", choices=EAL_MODES, default="released")
    p.add_argument("--buffer-size", type=int, default=128, help="EAL buffer capacity M")
    p.add_argument("--refresh-steps", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--force", action="store_true", help="write into a --out not made by demo")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.data import DataLoader
    from torchvision import transforms
    from tqdm.auto import tqdm

    from d2s.core.io import atomic_write_text
    from d2s.core.outputs import check_output
    from d2s.data import load_items
    from d2s.data.demo import is_demo, make_demo
    from d2s.data.torch_dataset import ImageDataset
    from d2s.method.metrics import evaluate
    from d2s.registry import build
    from d2s.text.clip import cached_text_features, load_text_encoder
    from d2s.train.config import TrainConfig
    from d2s.train.tasks import d2s_objective

    started = time.time()
    torch.manual_seed(args.seed)
    data = args.out / "data"
    # the output policy (d2s/core/outputs.py): its own demo data and summary, or new ones
    check_output(args.out / "summary.json", command="demo", ours=_is_summary, force=args.force)
    if not (data / "demo.json").exists():  # to be written (an existing demo set is only read)
        check_output(data, command="demo", ours=is_demo, folder=True, force=args.force)
        print(f"writing the demo dataset to {data}")
        make_demo(data, seed=0, size=args.size, progress=True)
    train_items = load_items("ic9600", data, "train")
    test_items = load_items("ic9600", data, "test")
    if len(test_items) < 2 or len(train_items) < args.batch_size:
        from d2s.cli import CLIError

        raise CLIError(
            f"{data}: {len(train_items)} train / {len(test_items)} test images are too few for "
            f"batch size {args.batch_size}; use a larger --size (or delete {data} to regenerate)"
        )
    captions = {}
    for line in (data / "captions.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, caption = line.split("\t", 1)
        captions[name] = caption

    encoder = load_text_encoder(pretrained=None)
    text = cached_text_features(
        [captions[item.name] for item in train_items], encoder, args.out / "cache", batch_size=64
    )
    del encoder

    normalize = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    size = (args.image_size, args.image_size)
    train_tf = transforms.Compose(
        [
            transforms.Resize(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    test_tf = transforms.Compose([transforms.Resize(size), transforms.ToTensor(), normalize])
    train_set = ImageDataset(train_items, train_tf)
    loader = DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    test_loader = DataLoader(ImageDataset(test_items, test_tf), batch_size=64)

    model = build("d2s-r18", proj_dim=512)
    paper = TrainConfig(
        eal_mode=args.eal_mode, buffer_size=args.buffer_size, refresh_steps=args.refresh_steps
    )
    objective = d2s_objective(model, paper)
    optimizer = torch.optim.AdamW(model.parameters(), lr=paper.lr, weight_decay=paper.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, args.epochs, eta_min=paper.min_lr
    )

    def fetch_images(ids: torch.Tensor) -> torch.Tensor:
        return torch.stack([train_set[int(i)][0] for i in ids])

    history = []
    for epoch in range(args.epochs):
        model.train()
        sums = {"loss": 0.0, "mse": 0.0, "eal": 0.0, "fal": 0.0}
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch")
        for images, targets, ids in bar:
            out = objective(
                model, images, targets, text["features"][ids], text["entropy"][ids], ids
            )
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            optimizer.step()
            objective.after_step(model, fetch_images)
            for key in sums:
                sums[key] += float(out[key].detach())
            bar.set_postfix(loss=f"{out['loss'].item():.4f}")
        scheduler.step()
        model.eval()
        with torch.no_grad():
            preds = torch.cat([model(images) for images, _, _ in test_loader])
        metrics = evaluate(preds, [item.label for item in test_items])
        row = {"epoch": epoch + 1, **{k: v / len(loader) for k, v in sums.items()}, **metrics}
        history.append(row)
        print(
            f"epoch {epoch + 1}: loss {row['loss']:.4f} (mse {row['mse']:.4f}, eal {row['eal']:.4f},"
            f" fal {row['fal']:.4f})  test srcc {metrics['srcc']:.3f} plcc {metrics['plcc']:.3f}"
            f" rmse {metrics['rmse']:.3f} rmae {metrics['rmae']:.3f}"
        )

    summary = {
        "run": "demo",
        "note": "embedded demo data, random-weight backbone and text encoder: "
        "shows the machinery, not the paper's numbers",
        "model": "d2s-r18",
        "eal_mode": args.eal_mode,
        "select": "last-epoch",
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "func"
        },
        "train_items": len(train_items),
        "test_items": len(test_items),
        "test_metrics": history[-1] if history else None,
        "history": history,
        "seconds": round(time.time() - started, 1),
    }
    atomic_write_text(json.dumps(summary, indent=2) + "\n", args.out / "summary.json")
    print(f"wrote {args.out / 'summary.json'} ({summary['seconds']} s)")
    return 0


def _is_summary(path: Path) -> bool:
    """Whether ``path`` is a summary this command wrote."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("run") == "demo"
    except (OSError, ValueError, AttributeError):
        return False
