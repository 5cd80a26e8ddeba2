"""Fixtures of the Python package's tests: the chorus executable (the reference the package must
agree with) and small inputs written with h5py, which shares no code with chorus."""
import os
import subprocess

import h5py
import numpy as np
import pytest


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("CHORUS_CLI")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set CHORUS_CLI to the chorus executable (tests/py/package_tests.sh does)")
    return path


def cli_built_like_the_package(cli):
    """True when the chorus executable is an optimised build without instrumentation, as the
    package is (pip install: Release). Read from CMakeCache.txt next to it. The coverage (-O1)
    and sanitizer builds round chorus ingest's content vectors differently in the last bits (FMA
    contraction and the order of float sums follow the compiler's flags); exact results such as
    detect's edges do not depend on it."""
    cache = os.path.join(os.path.dirname(os.path.abspath(cli)), "CMakeCache.txt")
    values = {}
    try:
        with open(cache) as f:
            for line in f:
                if ":" in line and "=" in line and not line.startswith(("//", "#")):
                    key, value = line.split(":", 1)[0], line.strip().split("=", 1)[1]
                    values[key] = value
    except OSError:
        return True
    return (values.get("CMAKE_BUILD_TYPE") == "Release" and
            values.get("CHORUS_COVERAGE", "OFF").upper() in ("OFF", "0", "FALSE", "") and
            values.get("CHORUS_SANITIZE", "").upper() in ("", "OFF"))


def run_cli(cli, *args, check=True):
    """Run the chorus executable; returns (exit code, stdout, stderr)."""
    r = subprocess.run([cli, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"chorus {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.returncode, r.stdout, r.stderr


def cli_error(cli, *args):
    """The message and exit code of a failing CLI run ('chorus: error: MSG' on stderr)."""
    code, _, err = run_cli(cli, *args, check=False)
    assert code != 0, f"chorus {' '.join(args)} succeeded"
    lines = [ln for ln in err.splitlines() if ln.startswith("chorus: error: ")]
    assert lines, err
    return lines[-1][len("chorus: error: "):], code


def clustered(n, d, seed, groups=12, spread=0.15):
    """Rows in tight groups plus noise (float64)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, d))
    x = rng.normal(size=(n, d))
    members = n // 3
    x[:members] = centres[np.arange(members) % groups] + spread * rng.normal(size=(members, d))
    return x


def activity_counts(n, t, seed, groups=10):
    rng = np.random.default_rng(seed)
    rates = rng.choice([0.2, 5.0], p=[0.8, 0.2], size=(groups, t))
    lam = np.full((n, t), 0.8)
    members = n // 3
    lam[:members] = rates[np.arange(members) % groups]
    return rng.poisson(lam).astype(np.int32)


def datasets(path):
    """Every dataset of an HDF5 file by path, read with h5py."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def write_input(path, ids, embedding=None, activity=None, handles=None):
    with h5py.File(path, "w") as f:
        f["/accounts/id"] = ids
        if embedding is not None:
            f["/embedding"] = embedding
        if activity is not None:
            f["/activity"] = activity
        if handles is not None:
            f.create_dataset("/accounts/handle", data=np.array(handles, dtype=object),
                             dtype=h5py.string_dtype())
    return path


@pytest.fixture(scope="session")
def dense_input(tmp_path_factory):
    """A float32 embedding, int32 activity counts, ids and handles, as arrays and as a file."""
    d = tmp_path_factory.mktemp("dense")
    n = 600
    emb = clustered(n, 24, 1).astype(np.float32)
    act = activity_counts(n, 60, 2)
    ids = (np.arange(n, dtype=np.int64) * 7 + 100)
    handles = [f"acct_{i}" for i in range(n)]
    path = write_input(str(d / "in.h5"), ids, emb, act, handles)
    return {"path": path, "embedding": emb, "activity": act, "ids": ids, "handles": handles,
            "dir": d}
