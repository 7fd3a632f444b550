#!/usr/bin/env bash
# Reproduce the shipped models from the real training data, then copy weights + config + training
# log into assets/models/<name>/. Every run resumes from its last checkpoint when interrupted.
#
#   stage 1 (pre-training):  glyph-backbone (Omniglot)      photo-backbone (Tiny-ImageNet)
#   stage 2 (meta-training): hyper latent proto maml        photo
#   procedural only:         hyper-sim
#
# Two queues run side by side with one thread each: on 2 cores that beats one queue of 2 threads.
# Usage: DATA=../shared/data bash scripts/train_models.sh [name ...]   (default: all of the above)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
OMNIGLOT=$DATA/omniglot_background.tar.gz
PHOTOS=$DATA/tiny_imagenet32_150.tar.gz

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(hyper latent proto maml photo)

source_of() {  # the dataset file a config trains on (procedural configs need none)
  case $1 in
    hyper-sim) echo "" ;;
    photo|photo-backbone) echo "$PHOTOS" ;;
    *) echo "$OMNIGLOT" ;;
  esac
}

for n in "${names[@]}"; do
  [[ -f configs/$n.yaml ]] || { echo "no config configs/$n.yaml" >&2; exit 2; }
  src=$(source_of "$n")
  if [[ -n $src && ! -e $src ]]; then
    echo "missing $src: get Omniglot's images_background with torchvision.datasets.Omniglot(download=True) and Tiny-ImageNet as an ImageFolder tree, then DATA=<folder> make models" >&2
    exit 2
  fi
done

train_one() {
  local name=$1 src
  src=$(source_of "$name")
  local start=$(date +%s)
  local args=(train --config "configs/$name.yaml" --quiet)
  [[ -n $src ]] && args+=(--set "data=$src")
  OMP_NUM_THREADS=1 $PY -c "import sys, torch; torch.set_num_threads(1); from paramembed.cli import main; raise SystemExit(main(sys.argv[1:]))" "${args[@]}"
  echo "$name trained in $(( ($(date +%s) - start) / 60 )) min"
}

ship() {
  mkdir -p "assets/models/$1"
  cp "runs/$1/model.safetensors" "runs/$1/config.json" "runs/$1/metrics.jsonl" "assets/models/$1/"
}

backbone_of() {
  case $1 in
    hyper-sim) echo "" ;;
    photo) echo photo-backbone ;;
    *) echo glyph-backbone ;;
  esac
}

queue() {
  for n in "$@"; do
    local b
    b=$(backbone_of "$n")
    # Stage 1 once per backbone: a finished run resumes at its end and returns at once.
    if [[ -n $b ]] && ! grep -q '"finished": true' "runs/$b/config.json" 2>/dev/null; then train_one "$b"; fi
    train_one "$n"
    ship "$n"
  done
}

glyphs=() photos=()
for n in "${names[@]}"; do
  case $n in photo) photos+=("$n") ;; *) glyphs+=("$n") ;; esac
done
if [[ ${#glyphs[@]} -gt 0 && ${#photos[@]} -gt 0 ]]; then
  queue "${glyphs[@]}" &
  queue "${photos[@]}" &
  wait
else
  queue "${glyphs[@]}" "${photos[@]}"
fi
