"""scripts/ensure-postgres.sh with no PostgreSQL at the given URL (a closed port): it starts a
private cluster (as the postgres user when run as root), hands the command a URL that answers,
passes the command's exit status through, and stops and deletes the cluster afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from core.config import PROJECT_ROOT
from fakes.harness import free_port

SCRIPT = PROJECT_ROOT / "scripts" / "ensure-postgres.sh"
PROBE = """
import asyncio, os, sys
import asyncpg
url = os.environ["KEFU_TEST_POSTGRES_URL"]
async def main():
    conn = await asyncpg.connect(url, timeout=5)
    print(url, await conn.fetchval("SELECT current_setting('data_directory')"), flush=True)
    await conn.close()
asyncio.run(main())
sys.exit(3)
"""


@pytest.mark.slow
def test_a_closed_port_gets_a_private_cluster_that_is_gone_afterwards():
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    env = {**os.environ, "KEFU_TEST_POSTGRES_URL": closed}
    run = subprocess.run([str(SCRIPT), sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 3, run.stderr  # the command's own status
    url, data_dir = run.stdout.split()
    assert url != closed and url.startswith("postgresql://postgres@127.0.0.1:")
    assert "using a private cluster" in run.stderr
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OSError):  # stopped
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not os.path.exists(data_dir)  # deleted


@pytest.mark.slow
def test_a_server_that_answers_is_used_as_it_is():
    """(`make test` runs the suite through the script, so the URL it was given answers.)"""
    given = os.environ.get("KEFU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    run = subprocess.run([str(SCRIPT), sys.executable, "-c", "import os; print(os.environ['KEFU_TEST_POSTGRES_URL'])"],
                         env={**os.environ, "KEFU_TEST_POSTGRES_URL": given}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == given
