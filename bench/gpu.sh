#!/bin/bash
# The CUDA path in one run, for a machine with a GPU (docs/training.md, "On a GPU"):
#   1. tests/test_gpu.py;
#   2. the demo trained, translated and scored on the GPU, and the same model translating
#      on the CPU (the two outputs are compared line by line);
#   3. torchrun with one process per GPU (NCCL), 200 updates of the demo;
#   4. Multi30k (where $S2S_DATA/multi30k exists): training speed in fp32 and under bf16
#      autocast, two alternating rounds of 200 steps; then a model trained for STEPS updates
#      (default 2400) translates the test set greedily and with beam 5, timed, with BLEU.
#
#   bash bench/gpu.sh [STEPS]            # logs and runs in runs/gpu/
#   DEVICE=cpu bash bench/gpu.sh 20      # the same steps on the CPU (a dry run of this script)
#
# It uses the python3 on the PATH (or $PYTHON), which must have torch with CUDA and the
# dependencies in pyproject.toml; run it from the repository root.
set -u
STEPS=${1:-2400}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
OUTDIR=runs/gpu
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export S2S_DATA=${S2S_DATA:-$(if [ -d ../shared/data ]; then cd ../shared/data && pwd; else echo data; fi)}
S2S="$PY -m s2s"
rm -rf $OUTDIR && mkdir -p $OUTDIR
elapsed() { echo "$SECONDS s"; }

echo "== machine"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, '| CUDA available:', torch.cuda.is_available(),
'| GPUs:', torch.cuda.device_count(), '| bf16:', torch.cuda.is_available() and torch.cuda.is_bf16_supported())"
GPUS=$($PY -c "import torch; print(max(1, torch.cuda.device_count()))")

echo "== 1. tests/test_gpu.py"
$PY -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -3

echo "== 2. the demo on $DEVICE ($(elapsed))"
[ -f data/demo/train.src ] || $PY data/make_demo.py --out data/demo --seed 1 > /dev/null
$S2S train -c configs/demo.yaml -o $OUTDIR/demo --device $DEVICE --quiet \
    $( [ "$STEPS" -lt 900 ] && echo "--set train.max_steps=$STEPS" ) > $OUTDIR/demo.log 2>&1
echo "train: exit $?; $(grep -m1 'best validation BLEU' $OUTDIR/demo.log)"
$S2S translate -m $OUTDIR/demo --device $DEVICE -q < data/demo/test.src > $OUTDIR/demo.gpu.hyp
echo "translate: exit $?; $(wc -l < $OUTDIR/demo.gpu.hyp) lines for $(wc -l < data/demo/test.src)"
$S2S eval --hyp $OUTDIR/demo.gpu.hyp --ref data/demo/test.tgt | head -1
$S2S translate -m $OUTDIR/demo --device cpu -q < data/demo/test.src > $OUTDIR/demo.cpu.hyp
echo "the same model on the CPU: $(diff $OUTDIR/demo.gpu.hyp $OUTDIR/demo.cpu.hyp | grep -c '^<') lines differ"

echo "== 3. torchrun, $GPUS process(es) ($(elapsed))"
OMP_NUM_THREADS=2 $PY -m torch.distributed.run --standalone --nproc_per_node=$GPUS -m s2s train -c configs/demo.yaml \
    -o $OUTDIR/ddp --device $DEVICE --quiet --set train.max_steps=$(( STEPS < 200 ? STEPS : 200 )) \
    --set train.accumulate=$GPUS > $OUTDIR/ddp.log 2>&1
echo "torchrun: exit $?; $(grep -E 'step [0-9]+ \|' $OUTDIR/ddp.log | tail -1 )"

if [ ! -f "$S2S_DATA/multi30k/train.de" ]; then
  echo "== 4. skipped: no Multi30k under S2S_DATA=$S2S_DATA"; exit 0
fi
echo "== 4. Multi30k recipe speed on $DEVICE, pieces/s of steps 100-200 ($(elapsed))"
FIXED="--quiet --device $DEVICE --set train.max_minutes=0 --set train.log_every=100"
SHORT=$(( STEPS < 200 ? STEPS : 200 ))
for round in 1 2; do
  for bf16 in false true; do
    run=$OUTDIR/speed_${round}_bf16_$bf16
    $S2S train -c configs/multi30k_de_en_fast.yaml -o $run $FIXED --set train.max_steps=$SHORT \
        --set train.valid_every=1000 --set train.bf16=$bf16 > $run.log 2>&1
    echo "round $round, bf16 $bf16: $(grep -E '^step [0-9]+ \|' $run.log | tail -1 )"
  done
done
echo "== Multi30k recipe, $STEPS updates in fp32, then the test set ($(elapsed))"
$S2S train -c configs/multi30k_de_en_fast.yaml -o $OUTDIR/m30k $FIXED --set train.max_steps=$STEPS > $OUTDIR/m30k.log 2>&1
echo "train: exit $?; $(grep -m1 'best validation BLEU' $OUTDIR/m30k.log)"
TEST=$S2S_DATA/multi30k/test_2016_flickr
for beam in 1 5; do
  start=$EPOCHREALTIME
  $S2S translate -m $OUTDIR/m30k --device $DEVICE -q -k $beam < $TEST.de > $OUTDIR/m30k.beam$beam.hyp
  seconds=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
  echo "beam $beam: $(wc -l < $TEST.de) sentences in $seconds s (whole command); $($S2S eval --hyp $OUTDIR/m30k.beam$beam.hyp --ref $TEST.en -b | head -1) BLEU"
done
echo "done in $(elapsed)"
