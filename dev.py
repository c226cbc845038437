#!/usr/bin/env python3
"""Set up and run Tracewell with nothing but Python 3.11+.

    python3 dev.py serve   create .venv, install, migrate, load the demo data, serve on :8000
    python3 dev.py test    create .venv, install, run the whole test suite on every core
                           (extra args go to pytest; -n 0 runs it in one process)
    python3 dev.py setup   only create .venv and install (CI uses it before linting)

DATABASE_URL=postgres://user@host:5432/name switches from the embedded SQLite database.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".install-stamp"


def run(*args, **kwargs):
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def ensure_environment():
    if sys.version_info < (3, 11):
        sys.exit(f"Tracewell needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    # Reinstall only when the declared dependencies change.
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
        STAMP.write_text(wanted)


def serve():
    ensure_environment()
    manage = [PYTHON, "manage.py"]
    run(*manage, "migrate", "--no-input")
    run(*manage, "seed_demo")
    print("\nTracewell is starting on http://127.0.0.1:8000 (Ctrl+C stops it).\n", flush=True)
    os.execv(str(PYTHON), [str(PYTHON), "manage.py", "runserver", "127.0.0.1:8000"])


# pytest-xdist: one worker per core, each with its own test database. A file's tests stay in one
# worker, so module and class fixtures are made once and the browser tests share their browser.
WORKERS = "--numprocesses=auto"
DISTRIBUTION = "--dist=loadfile"
SINGLE_PROCESS = ("-n", "--numprocesses", "--pdb", "--trace", "no:xdist", "-pno:xdist")


def parallel_args(extra):
    """Run on every core unless the arguments choose the workers or need a single process."""
    if any(arg in SINGLE_PROCESS or arg.startswith(("-n", "--numprocesses=")) for arg in extra):
        return []
    if any(arg.startswith("--dist") for arg in extra):
        return [WORKERS]
    return [WORKERS, DISTRIBUTION]


def test(extra):
    ensure_environment()
    result = subprocess.run([str(PYTHON), "-m", "pytest", *parallel_args(extra), *extra], cwd=ROOT)
    sys.exit(result.returncode)


def main():
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "serve":
        serve()
    elif command == "test":
        test(extra)
    elif command == "setup":
        ensure_environment()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
