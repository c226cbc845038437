"""What the load test's users do (run by benchmarks/load.py, which sets LOAD_* variables).

Signed-in quality staff open the dashboard, lists, a lot's page, traces and search; consumers
check a unit on the public verification page. Sessions are made beforehand (load.py), since
production cookies are Secure and the test runs over plain HTTP on loopback: each user sends
its session cookie itself, and X-Forwarded-Proto tells Django the request came over HTTPS, as
a TLS-terminating proxy would.
"""

import json
import os
import random

from locust import HttpUser, between, task

PLAN = json.loads(os.environ["LOAD_PLAN"])


class QualityStaff(HttpUser):
    weight = 4
    wait_time = between(0.5, 2)

    def on_start(self):
        self.client.headers.update(
            {"Cookie": f"sessionid={PLAN['session']}", "X-Forwarded-Proto": "https"}
        )

    def get(self, url, name, ok=(200,)):
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code not in ok:
                r.failure(f"{r.status_code} for {url}")

    @task(3)
    def dashboard(self):
        self.get("/", "dashboard")

    @task(2)
    def lot_list(self):
        self.get("/lots/", "lot list")

    @task(1)
    def lot_list_filtered(self):
        self.get(f"/lots/?status=on_hold&product={PLAN['sku']}", "lot list, filtered")

    @task(1)
    def serial_list(self):
        self.get("/serials/", "serial unit list")

    @task(1)
    def event_list(self):
        self.get("/events/", "event list")

    @task(3)
    def lot_page(self):
        self.get(f"/lots/{random.choice(PLAN['lots'])}/", "lot page")

    @task(2)
    def trace_forward(self):
        self.get(f"/trace/?q={random.choice(PLAN['codes'])}&direction=forward", "trace forward")

    @task(2)
    def trace_backward(self):
        self.get(f"/trace/?q={random.choice(PLAN['codes'])}&direction=backward", "trace backward")

    @task(1)
    def search(self):
        # One exact hit sends the searcher straight to it (302); several list them (200).
        self.get(f"/search/?q={random.choice(PLAN['searches'])}", "search", ok=(200, 302))


class Consumer(HttpUser):
    weight = 1
    wait_time = between(1, 3)

    def on_start(self):
        self.client.headers.update({"X-Forwarded-Proto": "https"})

    @task
    def verify(self):
        path = random.choice(PLAN["digital_links"])
        with self.client.get(path, name="public verification", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} for {path}")
