#!/usr/bin/env bash
# Train a recipe, choose its checkpoint and search settings on the validation set, and score
# the test set once: cased sacreBLEU and chrF with their signatures (bench/quality.py).
#
#   bash bench/quality.sh multi30k_de_en_fast     # configs/multi30k_de_en_fast.yaml -> runs/multi30k_de_en_fast
#   bash bench/quality.sh RECIPE [RUN_DIR]
#
# A run directory that already holds last.pt is resumed (a finished run is only scored).
# Training time is printed by /usr/bin/time; corpora are read from $S2S_DATA (default:
# ../shared/data where it exists, else data/).
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:?usage: bash bench/quality.sh RECIPE [RUN_DIR]  (RECIPE: a config name in configs/)}
run=${2:-runs/$recipe}
[ -f "configs/$recipe.yaml" ] || { echo "no such recipe: configs/$recipe.yaml" >&2; exit 2; }
if [ -z "${S2S_DATA:-}" ]; then
  if [ -d ../shared/data/multi30k ]; then S2S_DATA=$(cd ../shared/data && pwd); else S2S_DATA=data; fi
fi
export S2S_DATA
make -s setup
if [ -f "$run/last.pt" ]; then
  /usr/bin/time -f "training: %e s wall, %M KB max RSS" .venv/bin/s2s train -o "$run" --resume --quiet
else
  /usr/bin/time -f "training: %e s wall, %M KB max RSS" .venv/bin/s2s train -c "configs/$recipe.yaml" -o "$run" --quiet
fi
.venv/bin/python bench/quality.py -m "$run"
