"""Download Multi30k (task 1, raw text) into data/multi30k/, the default $S2S_DATA/multi30k.

    python data/get_multi30k.py [--out data/multi30k] [--langs de en]

Fetches {train,val,test_2016_flickr}.LANG.gz from the public multi30k/dataset repository
at a fixed commit, unpacks them, and checks each file's sha256 against the values below,
so the files are byte-identical to those every s2s figure was measured on. The corpus
is for research and educational use (see its README for the Flickr terms and citations).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
URL = "https://raw.githubusercontent.com/multi30k/dataset/{commit}/data/task1/raw/{name}.gz"
SPLITS = ("train", "val", "test_2016_flickr")
SHA256_PREFIX = {  # of the unpacked files
    "train.en": "460a15fbd157e34a", "train.de": "2c2b73fd2b548fbc",
    "train.fr": "5925a3c18f1587b6", "train.cs": "2be68b38c8d586ff",
    "val.en": "1f2a23d992769b5b", "val.de": "660e09eb7e1da2f8",
    "val.fr": "5304e444d842e962", "val.cs": "d53827e469b0a1ca",
    "test_2016_flickr.en": "399a4382932c1aad", "test_2016_flickr.de": "4be6b5b3236b79c2",
    "test_2016_flickr.fr": "cb3160d69b002bb6", "test_2016_flickr.cs": "45adb85f688de840",
}


def fetch(name: str, out: Path) -> None:
    """Downloads and unpacks one file, checking its hash; keeps nothing partial."""
    target = out / name
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest().startswith(SHA256_PREFIX[name]):
        print(f"{target}: present", file=sys.stderr)
        return
    url = URL.format(commit=COMMIT, name=name)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = gzip.decompress(response.read())
    except OSError as e:  # URLError, timeouts and bad gzip data are all OSErrors
        raise SystemExit(f"cannot download {url}: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if not digest.startswith(SHA256_PREFIX[name]):
        raise SystemExit(f"{name}: sha256 {digest[:16]} differs from the expected {SHA256_PREFIX[name]}")
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    lines = data.count(b"\n")
    print(f"{target}: {lines:,} lines", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "multi30k")
    parser.add_argument("--langs", nargs="+", default=["de", "en"], choices=["de", "en", "fr", "cs"])
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        for lang in args.langs:
            fetch(f"{split}.{lang}", args.out)


if __name__ == "__main__":
    main()
