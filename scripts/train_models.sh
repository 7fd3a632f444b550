#!/usr/bin/env bash
# Reproduce the shipped glyph models: meta-train each config on the procedural glyphs only, then
# copy weights + config + training log into assets/models/<name>/. Resumes interrupted runs.
# Two queues run side by side with one thread each: on 2 cores that beats one queue of 2 threads.
# Usage: bash scripts/train_models.sh [name ...]   (default: hyper latent proto maml)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(hyper latent proto maml)

train_one() {
  local name=$1
  local start=$(date +%s)
  OMP_NUM_THREADS=1 $PY -c "import torch; torch.set_num_threads(1); from paramembed.cli import main; raise SystemExit(main(['train', '--config', 'configs/$name.yaml', '--quiet']))"
  mkdir -p "assets/models/$name"
  cp "runs/$name/model.safetensors" "runs/$name/config.json" "runs/$name/metrics.jsonl" "assets/models/$name/"
  echo "$name trained in $(( ($(date +%s) - start) / 60 )) min"
}

queue() { for n in "$@"; do train_one "$n"; done; }

if [[ ${#names[@]} -eq 1 ]]; then
  queue "${names[0]}"
else
  half=$(( (${#names[@]} + 1) / 2 ))
  queue "${names[@]:0:$half}" &
  queue "${names[@]:$half}" &
  wait
fi
