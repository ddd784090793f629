"""``kefu simulate`` on a real terminal (a pty): prompt, typed lines redrawn as timed bubbles,
readline history kept across runs, terminal left usable after exit."""

from __future__ import annotations

import codecs
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


class Pty:
    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        env.update(HOME=str(home), TERM="xterm", COLUMNS="100", LINES="30")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "bot", "simulate", "--llm", "off"], env)
        self.seen = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")  # chunks split characters

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """Read until ``text`` appears (a hang guard, not a speed check)."""
        end = time.monotonic() + timeout
        while text not in self.seen:
            if time.monotonic() > end:
                raise AssertionError(f"{text!r} not seen; got {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.seen += self._decoder.decode(os.read(self.fd, 65536))
                except OSError:
                    break
        return self.seen

    def send(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def wait(self, timeout: float = 30.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                self.seen += self._decoder.decode(os.read(self.fd, 65536))
            except OSError:
                pass
            time.sleep(0.05)
        os.kill(self.pid, 9)
        raise AssertionError("kefu simulate did not exit")


def test_repl_on_a_terminal(tmp_path):
    term = Pty(tmp_path)
    term.expect("林晓雯 › ")
    term.send("/as 刘洋")
    term.expect("你现在是 刘洋（金卡会员）")
    term.expect("刘洋 › ")
    term.send("你好呀")
    out = term.expect("刘洋 ‹ 你好呀")
    assert "\x1b[1A\r\x1b[J" in out  # the typed line is replaced by its bubble with the time
    assert "[10:30] 刘洋 ‹ 你好呀" in out or "[10:31] 刘洋 ‹ 你好呀" in out
    term.send("/quit")
    assert term.wait() == 0
    history = (tmp_path / ".kefu_simulate_history").read_text(encoding="utf-8")
    assert "/as 刘洋" in history and "你好呀" in history


def test_ctrl_d_ends_the_session(tmp_path):
    term = Pty(tmp_path)
    term.expect("林晓雯 › ")
    os.write(term.fd, b"\x04")
    assert term.wait() == 0


def test_ctrl_c_stops_everything_cleanly(tmp_path):
    term = Pty(tmp_path)
    term.expect("林晓雯 › ")
    os.write(term.fd, b"\x03")  # the terminal sends SIGINT to the process
    assert term.wait() == 0
    assert "Traceback" not in term.seen
