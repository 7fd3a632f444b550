#!/usr/bin/env bash
# Reproduce the shipped models from the real training data, then copy weights + config + training
# log into assets/models/<name>/ (and each backbone's config + log into assets/backbones/<name>/).
# Every run resumes from its last checkpoint when interrupted.
#
#   stage 1 (pre-training):  glyph-backbone (Omniglot)      photo-backbone (Tiny-ImageNet)
#   stage 2 (meta-training): hyper-base latent proto maml   photo-scratch
#   stage 3 (frozen: query refinement on cached features):  hyper (from hyper-base)
#   frozen from the start:   photo (ImageNet EfficientNet-Lite0 from its package; Caltech-101 + Tiny-ImageNet)
#   procedural only:         hyper-sim
#
# Stage 1 runs the needed backbones side by side, then stage 2 runs JOBS models at a time, each
# with one thread (on 2 cores two one-thread jobs beat one two-thread job).
# Usage: DATA=../shared/data bash scripts/train_models.sh [name ...]   (default: the five above)
#   JOBS=2          models trained at once in stage 2
#   SET="k=v ..."   extra config overrides for every run (e.g. "num_workers=2" on a GPU machine)
#   STAGE1_LIMIT=s  stop stage 1 after s seconds and meta-train from its last checkpoint
#   STAGE2_LIMIT=s  stop each stage-2 run after s seconds (rerun the script to resume it)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
JOBS=${JOBS:-2}
OMNIGLOT=$DATA/omniglot_background.tar.gz
PHOTOS=$DATA/tiny_imagenet32_150.tar.gz

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(hyper latent proto maml photo-scratch photo)
CALTECH=$DATA/caltech101_85.tar.gz

source_of() {  # the dataset file a config trains on (procedural configs need none)
  case $1 in
    hyper-sim) echo "" ;;
    photo-scratch|photo-backbone) echo "$PHOTOS" ;;
    photo) echo "$CALTECH" ;;
    *) echo "$OMNIGLOT" ;;
  esac
}

base_of() {  # the stage-2 model a stage-3 (frozen) model starts from
  case $1 in
    hyper) echo hyper-base ;;
    *) echo "" ;;
  esac
}

backbone_of() {
  case $1 in
    hyper-sim|photo) echo "" ;;
    photo-scratch) echo photo-backbone ;;
    *) echo glyph-backbone ;;
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

train_one() {  # name [timeout seconds]
  local name=$1 limit=${2:-0} src start
  src=$(source_of "$name")
  start=$(date +%s)
  local args=(train --config "configs/$name.yaml" --quiet)
  [[ -n $src ]] && args+=(--set "data=$src")
  [[ $name == photo ]] && args+=(--set "mix_data=$PHOTOS")
  for kv in ${SET:-}; do args+=(--set "$kv"); done
  OMP_NUM_THREADS=1 timeout "$limit" $PY -c "import sys, torch; torch.set_num_threads(1); from paramembed.cli import main; raise SystemExit(main(sys.argv[1:]))" "${args[@]}" \
    > "runs/$name.log" 2>&1 || echo "$name stopped early (status $?): see runs/$name.log"
  echo "$name: $(( ($(date +%s) - start) / 60 )) min"
}

ship() {  # name destination
  mkdir -p "$2/$1"
  for f in model.safetensors config.json metrics.jsonl; do
    [[ $2 == assets/backbones && $f == model.safetensors ]] || cp "runs/$1/$f" "$2/$1/"
  done
}

mkdir -p runs
# Stage 1, once per backbone: a finished run resumes at its end and returns at once.
backbones=()
for n in "${names[@]}"; do
  b=$(backbone_of "$n")
  [[ -n $b && ! " ${backbones[*]:-} " =~ " $b " ]] && backbones+=("$b")
done
for b in "${backbones[@]:-}"; do
  [[ -n $b ]] || continue
  grep -q '"finished": true' "runs/$b/config.json" 2>/dev/null || train_one "$b" "${STAGE1_LIMIT:-0}" &
done
wait
for b in "${backbones[@]:-}"; do [[ -n $b ]] && ship "$b" assets/backbones; done

# Stage 2 (the stage-3 models' bases among them), JOBS at a time; then stage 3 in the same way.
stage2=() stage3=() bases=()
for n in "${names[@]}"; do
  b=$(base_of "$n")
  if [[ -n $b ]]; then
    [[ " ${stage2[*]:-} " =~ " $b " ]] || stage2+=("$b")
    bases+=("$b")
    stage3+=("$n")
  else
    stage2+=("$n")
  fi
done
run_stage() {
  local running=0
  for n in "$@"; do
    local dest=assets/models  # a base ships like a backbone: its config and log, for the training table
    [[ " ${bases[*]:-} " =~ " $n " ]] && dest=assets/backbones
    (train_one "$n" "${STAGE2_LIMIT:-0}"; if grep -q '"finished": true' "runs/$n/config.json" 2>/dev/null; then ship "$n" "$dest"; fi) &
    running=$((running + 1))
    if (( running >= JOBS )); then wait -n; running=$((running - 1)); fi
  done
  wait
}
run_stage "${stage2[@]}"
[[ ${#stage3[@]} -eq 0 ]] || run_stage "${stage3[@]}"
