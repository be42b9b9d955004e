"""The IC9600 authors' ICNet checkpoint layout (``ck.pth``) mapped onto :mod:`d2s.baselines.icnet`."""

from __future__ import annotations

#: Attribute prefixes of the IC9600 authors' ``ICNet`` (``ICNet.py`` of github.com/tinglyfeng/IC9600,
#: whose ``ck.pth`` their ``gene.py`` loads as a plain state dict) → this module's. Their trunks are
#: ``nn.Sequential(*children()[:5])`` of a torchvision ResNet-18 (indices 0 conv1, 1 bn1, 4 layer1)
#: followed by ``layer2`` … ``layer4`` as ``b{branch}_{stage}``; each ``slam`` keeps its MLP in
#: ``linear``; ``up1``/``up2``/``to_map_f``/``to_score_f`` name their parts ``conv``/``bn``; the
#: map's 1×1 conv is ``to_map.to_map.0``. The mapping is one-to-one (tested by a strict load of
#: a state dict written in their layout).
OFFICIAL_KEY_MAP: tuple[tuple[str, str], ...] = (
    *(
        pair
        for branch, trunk in ((1, "detail"), (2, "context"))
        for pair in (
            (f"b{branch}_1.0.", f"{trunk}.conv1."),
            (f"b{branch}_1.1.", f"{trunk}.bn1."),
            (f"b{branch}_1.4.", f"{trunk}.layer1."),
        )
    ),
    ("b1_2.", "detail.layer2."),
    ("b2_2.", "context.layer2."),
    ("b2_3.", "context.layer3."),
    ("b2_4.", "context.layer4."),
    ("b1_1_slam.linear.", "detail_slam.0.mlp."),
    ("b1_2_slam.linear.", "detail_slam.1.mlp."),
    *((f"b2_{i}_slam.linear.", f"context_slam.{i - 1}.mlp.") for i in range(1, 5)),
    ("up1.conv.", "detail_fuse.0."),
    ("up1.bn.", "detail_fuse.1."),
    ("up2.conv.", "context_fuse.0."),
    ("up2.bn.", "context_fuse.1."),
    ("to_map_f.conv.", "map_conv.0."),
    ("to_map_f.bn.", "map_conv.1."),
    ("to_map_f_slam.linear.", "map_slam.mlp."),
    ("to_map.to_map.0.", "map_out.0."),
    ("to_score_f.conv.", "score_conv.0."),
    ("to_score_f.bn.", "score_conv.1."),
    ("to_score_f_slam.linear.", "score_slam.mlp."),
    ("head.", "head."),
)


def official_to_suite_keys(state: dict) -> tuple[dict, list[str]]:
    """The authors' ``ICNet`` state dict (wrapper prefixes already stripped) in this module's
    layout: ``(mapped, keys matching no prefix of OFFICIAL_KEY_MAP)``."""
    mapped, unknown = {}, []
    for key, value in state.items():
        for old, new in OFFICIAL_KEY_MAP:
            if key.startswith(old):
                mapped[new + key[len(old) :]] = value
                break
        else:
            unknown.append(key)
    return mapped, unknown
