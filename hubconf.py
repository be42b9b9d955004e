"""torch.hub entry points: ``torch.hub.load(repo, "d2s_r18", checkpoint=PATH_OR_URL)``.

One per image-only model of Table 1 (``d2s_r18``, ``d2s_r50``, ``icnet``, ``iccorn``), made from
the model table by :mod:`d2s.inference.hub`; each returns a :class:`d2s.inference.scoring.Scorer`.
"""

from d2s.inference.hub import entry_point
from d2s.inference.pyiqa import metric_names

dependencies = ["torch", "torchvision", "timm", "PIL"]

for _name in metric_names():
    globals()[_name.replace("-", "_")] = entry_point(_name)
del _name
