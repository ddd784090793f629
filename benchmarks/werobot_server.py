"""WeRoBot with the benchmark's Token / EncodingAESKey / AppID, served the way its documentation
recommends (``robot.run()``: ``server="auto"`` picks Waitress when it is installed).

    python benchmarks/werobot_server.py PORT [SERVER]

SERVER is what ``robot.run(server=...)`` gets: ``auto`` (default) = Waitress when it is installed
(the bench extra pins it), else WSGIRef; ``wsgiref`` = what ``pip install werobot`` alone gives.

Sessions are off (WeRoBot's default session store would add a file write per message) and no
handler matches, so WeRoBot only checks, decrypts and parses each push and answers: the least
work a WeChat webhook can do. kefu in the same benchmark also stores every push in Redis.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import werobot  # noqa: E402

from pushes import AES_KEY, APP_ID, TOKEN  # noqa: E402


def main() -> None:
    port = int(sys.argv[1])
    robot = werobot.WeRoBot(token=TOKEN, SESSION_STORAGE=False)
    robot.config["APP_ID"] = APP_ID
    robot.config["ENCODING_AES_KEY"] = AES_KEY
    robot.config["HOST"] = "127.0.0.1"
    robot.config["PORT"] = port
    server = sys.argv[2] if len(sys.argv) > 2 else "auto"
    robot.run(server=server, enable_pretty_logging=False)


if __name__ == "__main__":
    main()
