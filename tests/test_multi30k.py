"""The Multi30k recipe against the real corpus under $S2S_DATA (skipped where it is absent)."""

import hashlib
import os
from pathlib import Path

import pytest

from s2s.configfile import load_config
from s2s.text import read_parallel, split_path
from tests.conftest import ROOT

DATA = Path(os.environ.get("S2S_DATA", "data")) / "multi30k"
pytestmark = pytest.mark.skipif(not (DATA / "train.de").exists(),
                                reason=f"Multi30k not found under {DATA} (set S2S_DATA, or run "
                                       "python data/get_multi30k.py)")


def test_config_finds_aligned_files():
    config = load_config(ROOT / "configs" / "multi30k_de_en.yaml")
    for prefix, lines in ((config.data.train, 29000), (config.data.valid, 1014), (config.data.test, 1000)):
        src, tgt = read_parallel(split_path(prefix, "de"), split_path(prefix, "en"))
        assert len(src) == len(tgt) == lines


def test_download_script_hashes_match_the_corpus():
    import importlib.util
    spec = importlib.util.spec_from_file_location("get_multi30k", ROOT / "data" / "get_multi30k.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, prefix in module.SHA256_PREFIX.items():
        if (DATA / name).exists():
            assert hashlib.sha256((DATA / name).read_bytes()).hexdigest().startswith(prefix), name


@pytest.mark.parametrize("recipe", ["reference", "multi30k_de_en", "multi30k_de_en_fast", "multi30k_en_de",
                                    "tatoeba_en_de"])
def test_every_recipe_finds_aligned_train_valid_and_test_files(recipe):
    config = load_config(ROOT / "configs" / f"{recipe}.yaml")
    if not Path(split_path(config.data.train, config.data.src_lang)).parent.exists():
        pytest.skip(f"{config.data.train} not found")
    for prefix in (config.data.train, config.data.valid, config.data.test):
        src, tgt = read_parallel(split_path(prefix, config.data.src_lang), split_path(prefix, config.data.tgt_lang))
        assert len(src) == len(tgt) > 0
