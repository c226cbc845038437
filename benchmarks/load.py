"""Load test: 50 concurrent users for 60 s against gunicorn with production settings on
PostgreSQL, on loopback only.

    .venv/bin/pip install locust          # once: a benchmark tool, not a dependency
    .venv/bin/python benchmarks/load.py   # --users 50 --seconds 60 --workers 5

It makes a fresh database (tracewell_load) with the demo data set, collects static files,
starts gunicorn on 127.0.0.1:8123 with traceability.settings.production (secret key, hosts,
Redis cache and rate limits from the environment it sets), runs locust headless with the users
in benchmarks/locustfile.py, and prints requests per second, the failures and the p50, p95
and p99 response times per page and in all. The public verification page's rate limit is
raised for the run (one client address makes every request).
"""

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "tracewell_load"
PORT = 8123
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")


def environment() -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "traceability.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"{SERVER}/{DATABASE}",
            "REDIS_URL": REDIS,
            "CELERY_BROKER_URL": "",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "VERIFY_RATE": "100000/m",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_MEDIA_ROOT": "/tmp/tracewell-load-media",
        }
    )
    return env


def manage(env, *args, **kwargs):
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, **kwargs)


def prepare(env) -> dict:
    """A fresh database with the demo data; what the users will ask for."""
    admin = f"{SERVER}/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {DATABASE}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {DATABASE}"], check=True)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "seed_demo", stdout=subprocess.DEVNULL)
    manage(env, "collectstatic", "--no-input", "-v0")
    script = """
import json
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from inventory.models import Lot, SerialUnit
user = get_user_model().objects.get(username="manager")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
lots = list(Lot.objects.select_related("product").order_by("pk"))
units = list(SerialUnit.objects.select_related("product").exclude(product__gtin="").order_by("pk"))
print(json.dumps({
    "session": session.session_key,
    "sku": lots[0].product.sku,
    "lots": [lot.pk for lot in lots],
    "codes": [f"{lot.product.sku} lot {lot.code}".replace(" ", "+") for lot in lots[:40]],
    "searches": [lot.code for lot in lots[:20]] + [unit.serial for unit in units[:20]],
    "digital_links": [f"/01/{unit.product.gtin}/21/{unit.serial}" for unit in units[:40]],
}))
"""
    out = manage(env, "shell", "-c", script, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def wait_for(url: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within {seconds} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    locust = shutil.which("locust", path=str(Path(PYTHON).parent))
    if locust is None:
        raise SystemExit("locust is not installed: .venv/bin/pip install locust")

    env = environment()
    plan = prepare(env)
    gunicorn = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "traceability.wsgi",
            f"--bind=127.0.0.1:{PORT}",
            f"--workers={options.workers}",
            f"--threads={options.threads}",
            "--access-logfile=-" if os.environ.get("LOAD_ACCESS_LOG") else "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(f"http://127.0.0.1:{PORT}/healthz")
        prefix = Path("/tmp/tracewell-load")
        started = time.time()
        subprocess.run(
            [
                locust,
                "-f",
                str(ROOT / "benchmarks" / "locustfile.py"),
                "--headless",
                f"--users={options.users}",
                f"--spawn-rate={options.users}",
                f"--run-time={options.seconds}s",
                f"--host=http://127.0.0.1:{PORT}",
                f"--csv={prefix}",
                "--only-summary",
                "--loglevel=WARNING",
            ],
            env={**env, "LOAD_PLAN": json.dumps(plan)},
            check=False,
        )
        load = os.getloadavg()
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    with open(f"{prefix}_stats.csv") as stats:
        rows = list(csv.DictReader(stats))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    print(
        f"\n{options.users} users, {options.seconds} s, gunicorn {options.workers} workers x "
        f"{options.threads} threads; started {when}; "
        f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("| page | requests | failures | req/s | p50 | p95 | p99 | max |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} ms | {row['95%']} ms | "
            f"{row['99%']} ms | {float(row['Max Response Time']):.0f} ms |"
        )


if __name__ == "__main__":
    main()
