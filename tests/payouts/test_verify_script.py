"""scripts/verify_run.py, run as a user would: plain Python without Django (``-I -S``: no
site-packages), on a proof and flows downloaded from a real run through the API."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.payouts.publish_helpers import ALICE, published_run

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_run.py"


def verify(*args):
    return subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def downloads(client, tmp_path):
    """The run's public answer, flows and alice's usd proof, as downloaded files."""
    run = published_run()
    base = f"/api/v1/distributions/{run.pk}"
    (tmp_path / "public.json").write_bytes(client.get(f"{base}/public/").content)
    flows = client.get(f"{base}/flows.json")
    (tmp_path / "flows.json").write_bytes(b"".join(flows.streaming_content))
    client.force_login(User.objects.get(username=ALICE))
    proof = client.get(f"{base}/proof/", {"recipient": f"user:{ALICE}", "currency": "usd"})
    assert proof.status_code == 200
    (tmp_path / "proof.json").write_bytes(proof.content)
    return tmp_path


@pytest.fixture
def local_url(downloads):
    """The downloads served over HTTP on 127.0.0.1 (the script fetches a URL like this)."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(downloads))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_script_checks_a_downloaded_proof_against_the_given_root(downloads):
    public = json.loads((downloads / "public.json").read_text())
    done = verify(downloads / "proof.json", "--root", public["merkle_roots"]["usd"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK the proof of the user:{ALICE} usd line" in done.stdout
    wrong = verify(downloads / "proof.json", "--root", public["merkle_roots"]["eur"])
    assert wrong.returncode == 1 and "FAIL the path leads to" in wrong.stdout


def test_the_script_fetches_the_root_from_a_url(downloads, local_url):
    done = verify(downloads / "proof.json", "--public", f"{local_url}/public.json")
    assert done.returncode == 0, done.stdout + done.stderr
    proof = json.loads((downloads / "proof.json").read_text())
    proof["amount"] += 1
    (downloads / "forged.json").write_text(json.dumps(proof))
    forged = verify(downloads / "forged.json", "--public", f"{local_url}/public.json")
    assert forged.returncode == 1
    assert "FAIL the leaf is not the hash of the line" in forged.stdout


def test_the_script_checks_that_the_flows_add_up(downloads, local_url):
    done = verify("--flows", downloads / "flows.json", "--public", f"{local_url}/public.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK the flows add up" in done.stdout
    flows = json.loads((downloads / "flows.json").read_text())
    hop = next(f for f in flows if f["source"] == "project:numpy" and f["target"] == "people")
    hop["amount"] += 1
    (downloads / "changed.json").write_text(json.dumps(flows))
    changed = verify("--flows", downloads / "changed.json", "--public", downloads / "public.json")
    assert changed.returncode == 1
    assert f"FAIL {hop['currency']}: money staying sums to" in changed.stdout
    assert f"FAIL {hop['currency']}: project:numpy receives -1 more" in changed.stdout


def test_the_script_explains_bad_arguments(downloads):
    assert verify().returncode == 2
    assert verify("--flows", downloads / "flows.json").returncode == 2
    missing = verify(downloads / "nothing.json", "--root", "00")
    assert missing.returncode == 1 and "cannot read" in missing.stderr
