"""s2s: attention-based recurrent sequence-to-sequence translation.

The library the `s2s` command and server are built on; these names are its public API:

    from s2s import Translator
    translator = Translator.load("runs/demo")            # a checkpoint or a run directory
    translator.translate(["The dog sees a cat."])         # one translation per line
    best = translator.nbest(["The dog sees a cat."], 3)[0][0]   # Translation: text, score
    translator.attention(best)                            # Attention: weights, pieces
    translator.with_search(beam=10, alpha=0.6)            # other search settings, same model

    import s2s
    s2s.train("configs/demo.yaml", "runs/demo", overrides=["train.max_steps=600"])

Names are imported on first use, so `import s2s` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Translator": "s2s.translator",
    "Translation": "s2s.result",
    "Attention": "s2s.result",
    "Predictor": "s2s.predictor",
    "train": "s2s.run",
    "Progress": "s2s.bookkeeping",
    "Config": "s2s.config",
    "SearchConfig": "s2s.config",
    "load_config": "s2s.configfile",
    "Score": "s2s.metrics",
    "score": "s2s.metrics",
    "describe": "s2s.summary",
    "UserError": "s2s.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from s2s.bookkeeping import Progress
    from s2s.config import Config, SearchConfig
    from s2s.configfile import load_config
    from s2s.errors import UserError
    from s2s.metrics import Score, score
    from s2s.predictor import Predictor
    from s2s.result import Attention, Translation
    from s2s.summary import describe
    from s2s.run import train
    from s2s.translator import Translator


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 's2s' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
