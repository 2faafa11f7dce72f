#!/bin/bash
# The ablation of docs/apps/transcribe.md: one recipe change at a time on the default run's corpus
# (1,200/120/240 utterances, seed 0), each model with the same wall-clock training budget. The two
# halves run in parallel (one per /work/bin/heavy slot) so the arms compared pairwise (plain/aug,
# aug+voices/streaming) meet the same machine load.
# Usage: benchmarks/transcribe_ablation.sh GROUP OUTDIR MINUTES   (GROUP a or b)
set -u
group=$1; out=$2; minutes=${3:-8}
mkdir -p "$out"
common=(--train 1200 --val 120 --test 240 --minutes "$minutes" --speed-utterances 20)
run() { tag=$1; shift; python benchmarks/transcribe.py "${common[@]}" --tag "$tag" --json "$out/$tag.json" "$@"; }
if [ "$group" = a ]; then
  run bi-plain --models bidirectional --augment false
  run bi-aug-voices --models bidirectional --augment true --extra-voices true
  run peer --models pocketsphinx --peer-test 12
else
  run bi-aug --models bidirectional --augment true
  run stream-aug --models streaming --augment true
fi
if [ "$group" = b ]; then  # the default run, from a clean cache, timed on its own
  rm -rf /tmp/speech-cache-default2 "$out/default-run"
  RNNKIT_CACHE=/tmp/speech-cache-default2 /usr/bin/time -f "[default run] wall %e s, user %U s, sys %S s" \
    python -m rnnkit transcribe --output-dir "$out/default-run" --progress false
fi
