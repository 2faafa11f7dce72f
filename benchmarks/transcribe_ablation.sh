#!/bin/bash
# The ablation of docs/apps/transcribe.md: one recipe change at a time on the default run's corpus
# (1,200/120/240 utterances, seed 0), each model with the same wall-clock training budget, then
# PocketSphinx on the same clips and the default `rnnkit transcribe` run from a clean cache.
# The tasks form a queue in OUTDIR; start this once per free /work/bin/heavy slot (each worker
# takes the next task until none is left, or until the hour:minute STOP_AT, UTC).
# Usage: benchmarks/transcribe_ablation.sh OUTDIR MINUTES [STOP_AT]
set -u
out=$1; minutes=${2:-6}; stop_at=${3:-23:59}
mkdir -p "$out"
if [ ! -e "$out/queue" ]; then
  printf '%s\n' bi-aug bi-plain stream-aug default-run bi-aug-voices peer > "$out/queue"
fi
common=(--train 1200 --val 120 --test 240 --minutes "$minutes" --speed-utterances 20)
run() { tag=$1; shift; python benchmarks/transcribe.py "${common[@]}" --tag "$tag" --json "$out/$tag.json" "$@"; }
next() {  # pop the first task of the queue, under a lock
  exec 8>"$out/queue.lock"; flock 8
  task=$(head -1 "$out/queue"); sed -i 1d "$out/queue"
  exec 8>&-
  echo "$task"
}
while true; do
  [ "$(date -u +%H:%M)" \< "$stop_at" ] || { echo "[ablation] past $stop_at: stopping"; break; }
  task=$(next); [ -n "$task" ] || break
  echo "[ablation] $(date -u +%H:%M:%S) $task"
  case $task in
    bi-aug) run bi-aug --models bidirectional --augment true ;;
    bi-plain) run bi-plain --models bidirectional --augment false ;;
    stream-aug) run stream-aug --models streaming --augment true ;;
    stream-plain) run stream-plain --models streaming --augment false ;;
    bi-aug-voices) run bi-aug-voices --models bidirectional --augment true --extra-voices true ;;
    peer) run peer --models pocketsphinx --peer-test 12 ;;
    default-run)
      rm -rf /tmp/speech-cache-default2 "$out/default-run"
      RNNKIT_CACHE=/tmp/speech-cache-default2 /usr/bin/time -f "[default run] wall %e s, user %U s, sys %S s" \
        python -m rnnkit transcribe --output-dir "$out/default-run" --progress false ;;
  esac
done
