#!/usr/bin/env bash
# One call on a lent GPU machine (the `device` tool runs it in a copy of the repo, with the image's
# python3 and torch; nothing is installed): the tests of the model and training code on CUDA (the
# device is "auto" there, so they take the GPU path), then the bench on the GPU. Training the
# shipped models on a GPU is `JOBS=5 SET="num_workers=2" PY=python3 bash scripts/train_models.sh`.
#   TEST_LIMIT / BENCH_LIMIT   seconds for each part (the lease is short: leave time to copy back)
#   OUT                        where the bench's text and JSON go (default runs/gpu)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
nvidia-smi -L
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
timeout "${TEST_LIMIT:-60}" $PY -m pytest -q -p no:cacheprovider -m "not slow and not e2e" -o addopts="" \
  tests/models tests/test_training.py tests/test_pretraining.py 2>&1 | tail -n 15 | tee "$OUT/tests-gpu.txt"
timeout "${BENCH_LIMIT:-90}" $PY -m paramembed bench --device cuda --tasks 20 \
  --only adaptation --only training --only pretraining --json "$OUT/bench-gpu.json" 2>&1 \
  | grep -v '^\[bench\]' | tee "$OUT/bench-gpu.txt"
