"""jieba's dictionary cache folder (issue 14 item 10): its name under the temp dir is predictable,
and jieba trusts the cache it finds there, so kefu uses it only when it is a private directory of
its own — else a fresh private directory, with a log line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from structlog.testing import capture_logs

from core.config import PROJECT_ROOT
from core.knowledge.tokenize import jieba_cache_dir

UID = os.getuid()


def _private_and_ours(path) -> bool:
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == UID and stat.S_IMODE(st.st_mode) == 0o700


def test_the_folder_is_created_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = jieba_cache_dir(tmp_path)
    finally:
        os.umask(old)
    assert path == tmp_path / f"kefu-jieba-{UID}" and _private_and_ours(path)
    assert jieba_cache_dir(tmp_path) == path  # and used again next time


@pytest.mark.parametrize("plant, reason", [
    (lambda p: (p.mkdir(), p.chmod(0o777)), "mode 0777 lets others in"),
    (lambda p: (p.mkdir(), p.chmod(0o750)), "mode 0750 lets others in"),
    (lambda p: (p.parent.joinpath("elsewhere").mkdir(mode=0o700), p.symlink_to(p.parent / "elsewhere")),
     "not a directory"),
    (lambda p: p.write_text("not a folder"), "not a directory"),
])
def test_a_folder_somebody_else_prepared_is_refused(tmp_path, plant, reason):
    planted = tmp_path / f"kefu-jieba-{UID}"
    plant(planted)
    with capture_logs() as logs:
        path = jieba_cache_dir(tmp_path)
    assert path != planted and _private_and_ours(path)
    (event,) = [e for e in logs if e["event"] == "jieba.cache_dir_refused"]
    assert event["reason"] == reason and event["path"] == str(planted)


@pytest.mark.skipif(UID != 0, reason="needs to give the folder to another user")
def test_a_folder_owned_by_another_user_is_refused(tmp_path):
    planted = tmp_path / f"kefu-jieba-{UID}"
    planted.mkdir(mode=0o700)
    os.chown(planted, 65534, 65534)  # "nobody" made it first
    with capture_logs() as logs:
        path = jieba_cache_dir(tmp_path)
    assert path != planted and _private_and_ours(path)
    assert [e["reason"] for e in logs] == ["owned by uid 65534"]


@pytest.mark.slow
def test_jieba_never_writes_its_cache_into_a_planted_folder(tmp_path):
    planted = tmp_path / f"kefu-jieba-{UID}"
    planted.mkdir()
    planted.chmod(0o777)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = "from core.knowledge.tokenize import tokenize; print(tokenize('运费多少'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=PROJECT_ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "运费" in result.stdout and "jieba.cache_dir_refused" in result.stdout + result.stderr
    assert list(planted.iterdir()) == []  # nothing written where another user could have planted it
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kefu-jieba-") and p != planted]  # cleaned up
