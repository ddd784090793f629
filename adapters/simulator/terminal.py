"""The simulator's terminal chat.

On a TTY it is a REPL with readline history: bubbles are printed live as kefu delivers them (the
prompt is redrawn underneath). With stdin not a TTY it reads one message per line, waits for the
replies to each (they stop arriving for ``quiet_s`` after at least one, or ``reply_timeout_s``),
prints them without any escape codes, and exits at end of input - for scripts and tests.

stdin is read on a daemon thread so a blocked ``input()`` never keeps the process alive on exit.

A menu kefu sends (猜你想问, ``msgmenu``) shows its options numbered; typing one of those numbers
taps that option (the push carries the option's id, as WeChat's does), until kefu sends the
customer another menu.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import threading
import unicodedata
from pathlib import Path
from typing import Any, Awaitable, Protocol, TextIO

from adapters.simulator.feed import BOT, SYSTEM, TYPING, USER, ChatEvent, Feed
from adapters.simulator.session import ShopDirectory, ShopperSession
from adapters.simulator.wechat_client import PushResult

HELP = """命令：
  /as 名字或openid    切换顾客（/as 不带参数列出可选顾客）
  /who                当前顾客
  /orders             当前顾客的订单
  /reset              清空当前顾客与客服的会话
  /event subscribe | /event unsubscribe | /event CLICK 菜单KEY
  /voice 文字         发送一条语音（带语音识别结果）
  /image              发送一张图片
  /help  /quit
客服发来的菜单（猜你想问）选项前有序号：输入序号就是点选它。"""
HISTORY_FILE = Path(os.environ.get("KEFU_SIMULATE_HISTORY", Path.home() / ".kefu_simulate_history"))
_EOF = object()


class SimulatorRun(Protocol):
    """What the terminal needs from the running simulator (``bot.simulation.runtime.Simulator``)."""

    directory: ShopDirectory
    feed: Feed
    session: ShopperSession

    async def reset(self, openid: str) -> None: ...


def format_bubble(event: ChatEvent, *, bot_name: str, user_name: str) -> str:
    """``[10:31] 悦衣坊客服 › text`` / ``[10:31] 林晓雯 ‹ text``; later lines of a bubble are indented."""
    hhmm = event.at.strftime("%H:%M")
    if event.kind == BOT:
        head = f"[{hhmm}] {bot_name} › "
    elif event.kind == USER:
        head = f"[{hhmm}] {user_name} ‹ "
    else:
        head = f"[{hhmm}] ! "
    pad = " " * 8
    lines = (event.text or "").splitlines() or [""]
    return head + lines[0] + "".join("\n" + pad + line for line in lines[1:])


class Terminal:
    def __init__(self, sim: SimulatorRun, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 tty: bool | None = None, reply_timeout_s: float = 20.0, quiet_s: float = 1.5) -> None:
        self.sim = sim
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout
        self.tty = (self.stdin.isatty() and self.out.isatty()) if tty is None else tty
        self.reply_timeout_s = reply_timeout_s
        self.quiet_s = quiet_s
        self._lines: asyncio.Queue[object] = asyncio.Queue()
        self._bot_seen = asyncio.Event()
        self._bot_count = 0
        self._last_bot_at = 0.0
        self._readline: Any = None  # the readline module, once set up on a TTY
        self._want_line = threading.Event()  # TTY: the loop is ready for the next input() (fresh prompt)
        self._in_input = False  # TTY: input() is showing the prompt right now
        self._typed_echo = 0  # TTY: own lines still on screen as typed, to be redrawn as bubbles
        self._termios: tuple[int, list] | None = None
        self._menus: dict[str, list[dict[str, str]]] = {}  # openid -> options of the latest menu shown

    # -- output -------------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        return f"{self.sim.session.customer.name} › "

    def _write(self, text: str) -> None:
        if self.tty:
            if self._in_input:
                buffer = self._readline.get_line_buffer() if self._readline else ""
                # erase the prompt line, print, then redraw the prompt with what was typed so far
                self.out.write("\r\x1b[K" + text + "\n" + self.prompt + buffer)
            else:
                self.out.write("\r\x1b[K" + text + "\n")
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.out.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            return 80

    def _redraw_typed(self, event: ChatEvent, bubble: str) -> bool:
        """Replace the line the shopper just typed (``prompt + text``) by its bubble, with the time."""
        if not self._typed_echo:
            return False
        self._typed_echo -= 1
        typed = self.prompt + (event.meta.get("typed") or event.text)
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in typed)
        rows = max(1, -(-width // self._columns())) + (1 if self._in_input else 0)  # + the new prompt line
        self.out.write(f"\x1b[{rows}A\r\x1b[J")
        self._write(bubble)
        return True

    def say(self, text: str) -> None:
        """A line from the simulator itself (command output)."""
        self._write(text)

    def _show(self, event: ChatEvent) -> None:
        session = self.sim.session
        if event.openid != session.customer.openid:
            return
        if event.kind == TYPING:
            if event.on and self.tty:
                self._write(f"\x1b[2m        {self.sim.directory.bot_name} 正在输入…\x1b[0m")
            return
        if event.kind == BOT:
            if event.meta.get("menu"):
                self._menus[event.openid] = list(event.meta["menu"])
            self._bot_count += 1
            self._last_bot_at = asyncio.get_running_loop().time()
            self._bot_seen.set()
        if event.kind in (BOT, USER, SYSTEM):
            bubble = format_bubble(event, bot_name=self.sim.directory.bot_name, user_name=session.customer.name)
            if not (event.kind == USER and self.tty and self._redraw_typed(event, bubble)):
                self._write(bubble)

    async def _print_feed(self, queue: asyncio.Queue[ChatEvent | None]) -> None:
        while (event := await queue.get()) is not None:
            self._show(event)

    def _drain(self, queue: asyncio.Queue[ChatEvent | None]) -> None:
        """Print what is still queued (e.g. a refusal published just before input ended)."""
        while not queue.empty():
            event = queue.get_nowait()
            if event is None:
                break
            self._show(event)

    # -- input --------------------------------------------------------------------------------
    def _start_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        def post(item: object) -> None:
            loop.call_soon_threadsafe(self._lines.put_nowait, item)

        def read() -> None:
            try:
                while True:
                    if self.tty:
                        self._want_line.wait()
                        self._want_line.clear()
                        self._in_input = True
                        try:
                            line = input(self.prompt)
                        except EOFError:
                            break
                        finally:
                            self._in_input = False
                    else:
                        line = self.stdin.readline()
                        if not line:
                            break
                    post(line.rstrip("\r\n"))
            except (OSError, ValueError, RuntimeError):
                pass  # stdin closed under us, or the loop is gone
            try:
                post(_EOF)
            except RuntimeError:
                pass

        threading.Thread(target=read, name="kefu-simulate-stdin", daemon=True).start()

    def _setup_readline(self) -> None:
        try:  # restored on exit: a Ctrl-C while readline has the terminal must not leave it raw
            import termios

            fd = self.stdin.fileno()
            self._termios = (fd, termios.tcgetattr(fd))
        except (ImportError, OSError, ValueError):
            self._termios = None
        try:
            import readline
        except ImportError:  # pragma: no cover - no readline on this platform
            return
        self._readline = readline
        readline.set_history_length(1000)
        try:
            readline.read_history_file(HISTORY_FILE)
        except OSError:
            pass

    def _save_history(self) -> None:
        if self._readline is not None:
            try:
                self._readline.write_history_file(HISTORY_FILE)
            except OSError:
                pass
        if self._termios is not None:
            import termios

            try:
                termios.tcsetattr(self._termios[0], termios.TCSADRAIN, self._termios[1])
            except (OSError, termios.error):
                pass

    async def _wait_for_replies(self, before: int) -> None:
        """Until replies stop (``quiet_s`` after the last one, typing off) or ``reply_timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_timeout_s
        openid = self.sim.session.customer.openid
        while True:
            now = loop.time()
            got = self._bot_count > before
            if got and not self.sim.feed.is_typing(openid) and now - self._last_bot_at >= self.quiet_s:
                return
            if now >= deadline:
                if not got:
                    self.say(f"（{self.reply_timeout_s:.0f} 秒内没有收到回复）")
                return
            self._bot_seen.clear()
            wait = deadline - now if not got else min(deadline - now, max(0.05, self._last_bot_at + self.quiet_s - now))
            try:
                async with asyncio.timeout(wait):  # not wait_for: on 3.11 it can swallow a cancel
                    await self._bot_seen.wait()
            except TimeoutError:
                pass

    # -- main loop ------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        if self.tty:
            self._setup_readline()
        queue = self.sim.feed.subscribe()
        printer = asyncio.create_task(self._print_feed(queue), name="simulate-terminal-printer")
        c = self.sim.session.customer
        self.say(f"你现在是 {c.name}（{c.member_level or '访客'}），输入 /help 查看命令。")
        self._start_reader(loop)
        try:
            while True:
                self._want_line.set()
                line = await self._lines.get()
                if line is _EOF:
                    break
                assert isinstance(line, str)
                if not line.strip():
                    continue
                if not await self.handle(line.strip()):
                    break
        finally:
            printer.cancel()
            try:
                await printer
            except asyncio.CancelledError:
                pass
            self._drain(queue)
            self.sim.feed.unsubscribe(queue)
            if self.tty:
                self._save_history()
                self.out.write("\n")
                self.out.flush()
        return 0

    async def handle(self, line: str) -> bool:
        """One input line; returns False to quit."""
        if not line.startswith("/"):
            self._typed_echo += self.tty
            option = self._menu_option(line)
            await self._send(self.sim.session.tap(option, typed=line) if option else self.sim.session.say(line))
            return True
        try:
            parts = shlex.split(line)
        except ValueError:
            parts = line.split()
        cmd, args = parts[0].lower(), parts[1:]
        session = self.sim.session
        if cmd in ("/quit", "/exit", "/q"):
            return False
        if cmd == "/help":
            self.say(HELP)
        elif cmd == "/as":
            if not args:
                self.say("可选顾客：" + "、".join(c.name for c in self.sim.directory.customers))
            elif (found := session.switch(" ".join(args))) is None:
                self.say(f"没有这个顾客：{' '.join(args)}（可选：{'、'.join(c.name for c in self.sim.directory.customers)}）")
            else:
                level = found.member_level if found.known else "不在店铺数据里的访客"
                self.say(f"你现在是 {found.name}（{level}）")
        elif cmd == "/who":
            c = session.customer
            self.say(f"{c.name}（{c.member_level or '访客'}） openid {c.openid}")
        elif cmd == "/orders":
            orders = self.sim.directory.orders_of(session.customer.openid)
            self.say("\n".join(o.render() for o in orders) if orders else "（没有订单）")
        elif cmd == "/reset":
            await self.sim.reset(session.customer.openid)
            self.say(f"已清空 {session.customer.name} 的会话")
        elif cmd == "/voice":
            if not args:
                self.say("用法：/voice 文字")
            else:
                self._typed_echo += self.tty
                await self._send(session.voice(" ".join(args), typed=line))
        elif cmd == "/image":
            self._typed_echo += self.tty
            await self._send(session.image(typed=line))
        elif cmd == "/event":
            if not args or args[0] not in {"subscribe", "unsubscribe", "CLICK", "click", "VIEW", "view", "SCAN", "scan"}:
                self.say("用法：/event subscribe | /event unsubscribe | /event CLICK 菜单KEY")
            elif args[0].upper() in {"CLICK", "VIEW", "SCAN"} and len(args) < 2:
                self.say(f"用法：/event {args[0].upper()} KEY")
            else:
                self._typed_echo += self.tty
                await self._send(session.event(args[0], args[1] if len(args) > 1 else None, typed=line))
        else:
            self.say(f"不认识的命令 {cmd}，输入 /help 查看命令。")
        return True

    def _menu_option(self, line: str) -> dict[str, str] | None:
        """The option a bare number picks from the latest menu shown to this customer, if any."""
        options = self._menus.get(self.sim.session.customer.openid) or []
        n = line.strip()
        return options[int(n) - 1] if n.isdigit() and 1 <= int(n) <= len(options) else None

    async def _send(self, push: Awaitable[PushResult]) -> None:
        before = self._bot_count
        try:
            result = await push
        except Exception:  # noqa: BLE001 - the feed already has a system line saying why
            return
        if result.status == 200 and not self.tty:
            await self._wait_for_replies(before)
