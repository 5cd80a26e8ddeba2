"""Skips that cannot hide: the Python checks exit 77 (CTest's SKIP_RETURN_CODE) when a tool they
need is missing, except under CI=true, where a missing tool is a failure (exit 1) that names it.

    from ci_skip import skip
    skip("cannot import numpy (...)")        # never returns
"""

import os
import sys


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def skip(reason, code=77):
    """Exit 77 (skipped), or under CI=true exit 1 with the reason."""
    if in_ci():
        print(f"FAIL: {reason}. CI=true, so this check must run: install what is missing "
              f"(.ci/setup.sh) instead of skipping it")
        sys.stdout.flush()
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.stdout.flush()
    sys.exit(code)


def configured_off(chorus_binary, option):
    """True when the CMake build that made `chorus_binary` was configured with option=OFF
    (a deliberate choice, such as the sanitizer build's -DCHORUS_MPI=OFF, not a missing tool).
    Reads CMakeCache.txt next to the binary; False when there is none."""
    cache = os.path.join(os.path.dirname(os.path.abspath(chorus_binary)), "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith(option + ":"):
                    return line.strip().split("=", 1)[1].upper() in ("OFF", "0", "FALSE", "NO")
    except OSError:
        pass
    return False
