#!/usr/bin/env bash
# Triage of one sanitizer/libFuzzer report (used by .ci/sanitize.sh; checked on hand-made reports
# by tests/fuzz/check_triage.sh). Prints one line, "CHORUS <kind>: <why>" or "LIBRARY <kind>:
# <why>", and exits 1 for a chorus finding (CI fails), 0 for a library finding (HDF5's own),
# 2 for a usage error.
#
# Usage: triage.sh [--hang] REPORT
#   --hang: REPORT is the stack printed when a timeout artifact was re-run and stopped with
#           SIGABRT (ASAN_OPTIONS=handle_abort=1, `timeout -s ABRT`).
#
# Rules. A frame belongs to
#   the library  when its module is libhdf5 (or a compression library HDF5's filters call);
#   chorus       when it names a chorus source file (host/, kernels/, tests/fuzz/) or chorus:: or
#                the fuzz entry points;
#   the runtime  when it is the sanitizer runtime, libFuzzer, libc, libstdc++ or libgcc (skipped);
#   other        otherwise (inlined standard-library headers, oneDNN, OpenMP: skipped too).
# The owner of a stack is its innermost chorus or library frame.
#  1. The main stack (the error's, or the stack at SIGABRT for a hang) is owned by chorus, or
#     has no owned frame at all: a chorus finding.
#  2. It is owned by the library: a library finding, unless the report shows that the memory
#     involved is chorus's: a heap block whose allocation stack ("allocated by thread ... here:")
#     has no library frame before a chorus frame (HDF5 allocates through its own H5MM/H5FL frames,
#     which always show their module), a stack variable in a chorus frame, or a global variable
#     (HDF5 is not instrumented, so an ASan global is chorus's). Then HDF5 went past a buffer
#     chorus passed it: a chorus finding.
#  3. Leaks (LeakSanitizer): a chorus finding when any leaked block's allocation stack is not
#     owned by the library.
set -uo pipefail
hang=0
if [ "${1:-}" = --hang ]; then hang=1 && shift; fi
[ $# -eq 1 ] && [ -r "$1" ] || { echo "usage: triage.sh [--hang] REPORT" >&2; exit 2; }

facts=$(awk '
  function owner(l) {
    if (l ~ /libhdf5|libsz\.so|libaec\.so|libz\.so/) return "library"
    if (l ~ /[ (\/](host|kernels|tests\/fuzz)\/[^ :()]+\.(c|cc|cpp|cxx|h|hpp|cu|cuh)(:[0-9]+)/ ||
        l ~ / in (chorus::|LLVMFuzzerTestOneInput|LLVMFuzzerInitialize)/) return "chorus"
    if (l ~ /sanitizer|__interceptor|__asan|__lsan|__ubsan|compiler-rt|libclang_rt|fuzzer::|\/fuzzer\/Fuzzer|libc\.so|libc-[0-9]|libstdc\+\+|libgcc_s|libm\.so|ld-linux|sysdeps\/|__(memcpy|memmove|memset|mempcpy|strlen|strcpy)_/ ||
        l ~ / in (malloc|calloc|realloc|free|memcpy|memmove|memset|strlen|strdup|strndup|operator new|operator delete|raise|abort|gsignal|pthread_kill|__GI_raise|__GI_abort|__pthread_kill_implementation|__pthread_kill_internal|__restore_rt)[ (\[]/ ||
        l ~ /fuzz_input\+0x/) return "runtime"
    return "other"
  }
  function frame(l) { sub(/^ +/, "", l); sub(/ \(BuildId: [0-9a-f]+\)/, "", l); return l }
  function flush() {
    if (sec != "" && nframes > 0 && !(sec == "main" && main_done)) {
      print sec "=" (own == "" ? "none" : own) "|" (ownf == "" ? first : ownf)
      if (sec == "main") main_done = 1
    }
    nframes = 0; own = ""; ownf = ""; first = ""
  }
  /^ *#[0-9]+ / {
    if (sec == "") sec = "main"
    ++nframes
    if (first == "") first = frame($0)
    if (own == "") { o = owner($0); if (o == "chorus" || o == "library") { own = o; ownf = frame($0) } }
    next
  }
  { if (nframes > 0) { flush(); if (sec == "main") sec = "" } }
  !error && (/ERROR: / || /runtime error:/ || /deadly signal/) {
    error = 1; err = $0; sub(/^=+[0-9]+=+ */, "", err); print "error=" err
    if (/runtime error:/) print "ub_at=" owner($0) "|" frame($0)
    sec = "main"; next
  }
  /allocated by thread .* here:/ { sec = "alloc"; next }
  /freed by thread .* here:/ { sec = "free"; next }
  /is located in stack of thread/ { sec = "stackvar"; next }
  /created by .* here:/ { sec = "thread"; next }
  /global variable .*(defined in|from) / { print "global=" owner($0) "|" frame($0); next }
  /(Direct|Indirect) leak of/ { sec = "leak"; next }
  END { flush() }
' "$1")

get() { printf '%s\n' "$facts" | sed -n "s/^$1=//p"; }
err=$(get error | head -1)
# the error's name: heap-buffer-overflow, SEGV, ABRT, deadly signal, detected memory leaks, ...
kind=$(printf '%s' "$err" | sed -nE 's/.*(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): //p' |
  sed -E 's/ on (unknown )?address.*//; s/ \(.*//; s/: .*//' | cut -c1-60)
[ -n "$kind" ] || case "$err" in *"runtime error:"*) kind="runtime-error" ;; *) kind="crash" ;; esac
[ "$hang" = 1 ] && kind="hang"
main=$(get main | head -1)
main_owner=${main%%|*} main_frame=${main#*|}
say() { echo "$1 $kind: $2"; [ "$1" = LIBRARY ] && exit 0; exit 1; }

# leaks: every leaked block must be the library's
if printf '%s' "$err" | grep -q 'LeakSanitizer'; then
  kind=leak
  leaks=$(get leak)
  [ -n "$leaks" ] || say CHORUS "leak report without allocation stacks"
  while IFS= read -r l; do
    [ "${l%%|*}" = library ] || say CHORUS "leaked block allocated at ${l#*|}"
  done <<< "$leaks"
  first=${leaks%%$'\n'*}
  say LIBRARY "every leaked block was allocated inside HDF5 (e.g. ${first#*|})"
fi

ub=$(get ub_at | head -1)
[ -z "$ub" ] || [ "${ub%%|*}" != chorus ] || say CHORUS "${ub#*|}"
case "$main_owner" in
  chorus) say CHORUS "innermost owned frame: $main_frame" ;;
  library) ;;
  *) say CHORUS "no chorus or HDF5 frame in the stack (${main_frame:-no stack}); treated as chorus's" ;;
esac
# the main stack is HDF5's: whose memory?
[ "$hang" = 1 ] && say LIBRARY "HDF5 loops: $main_frame"
alloc=$(get alloc | head -1)
if [ -n "$alloc" ]; then
  [ "${alloc%%|*}" = library ] &&
    say LIBRARY "in $main_frame, on a block HDF5 allocated (${alloc#*|})"
  say CHORUS "HDF5 ($main_frame) overran or misused a block chorus allocated: ${alloc#*|}"
fi
var=$(get stackvar | head -1)
if [ -n "$var" ]; then
  [ "${var%%|*}" = library ] && say LIBRARY "in $main_frame, on HDF5's stack (${var#*|})"
  say CHORUS "HDF5 ($main_frame) went past a stack variable of ${var#*|}"
fi
glob=$(get global | head -1)
if [ -n "$glob" ]; then
  [ "${glob%%|*}" = library ] && say LIBRARY "in $main_frame, on an HDF5 global"
  say CHORUS "HDF5 ($main_frame) went past a global of the instrumented program: ${glob#*|}"
fi
say LIBRARY "in $main_frame, on memory the report does not trace to chorus"
