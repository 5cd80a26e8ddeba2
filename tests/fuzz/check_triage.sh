#!/usr/bin/env bash
# Checks tests/fuzz/triage.sh on the hand-made reports in tests/fuzz/triage_samples/: a file named
# chorus--*.txt must be triaged as a chorus finding (exit 1), library--*.txt as a library finding
# (exit 0); *.hang.txt files are stacks of timeouts re-run under `timeout -s ABRT` (--hang).
# Run by .ci/sanitize.sh before fuzzing; exits non-zero when any sample is misclassified.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bad=0 n=0
for f in "$here"/triage_samples/*.txt; do
  name=$(basename "$f")
  case "$name" in
    chorus--*) want=1 ;;
    library--*) want=0 ;;
    *) echo "check_triage: $name: name must start with chorus-- or library--" && bad=$((bad + 1)) && continue ;;
  esac
  flag=()
  case "$name" in *.hang.txt) flag=(--hang) ;; esac
  out=$(bash "$here/triage.sh" "${flag[@]}" "$f")
  got=$?
  n=$((n + 1))
  if [ "$got" = "$want" ]; then
    echo "ok    $name -> $out"
  else
    echo "FAIL  $name (exit $got, expected $want) -> $out"
    bad=$((bad + 1))
  fi
done
[ "$n" -gt 0 ] || { echo "check_triage: no samples" && exit 1; }
echo "check_triage: $n samples, $bad misclassified"
[ "$bad" -eq 0 ]
