"""Several staff: named accounts from [admin] users_file next to the config's own admin, two
roles, every action attributed to the person, and account changes taking effect at once."""

from __future__ import annotations

from structlog.testing import capture_logs

from adapters.admin.accounts import Account, load_users, write_users
from adapters.admin.passwords import hash_password
from tests.adapters.admin.admin_kit import USER, log_in, post_login

AGENT_PASSWORD = "agent password 2026"
AGENT_HASH = hash_password(AGENT_PASSWORD)
REPLY = f"/admin/api/conversations/wechat_oa/{USER}/reply"


def users_file(tmp_path, **accounts: str) -> str:
    path = tmp_path / "users.toml"
    write_users(path, {name: Account(name, role, AGENT_HASH) for name, role in accounts.items()})
    return str(path)


async def test_an_agent_replies_under_their_own_name_and_cannot_see_accounts(admin_cfg, start_console, wechat_api,
                                                                          tmp_path):
    client = await start_console(admin_cfg(admin__users_file=users_file(tmp_path, xiaoli="agent")))
    with capture_logs() as logs:
        assert (await post_login(client, username="XiaoLi ", password=AGENT_PASSWORD)).status == 302
        page = await (await client.get("/admin/")).text()
        assert 'name="kefu-role" content="agent"' in page and "xiaoli · 客服" in page
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        sent = await client.post(REPLY, json={"text": "您好，我是小李"}, headers={"X-CSRF-Token": csrf})
        assert sent.status == 200
        assert (await client.get("/admin/api/accounts")).status == 403
    assert wechat_api.deliveries(USER)[-1]["text"] == "您好，我是小李"
    audit = [(e["action"], e["user"]) for e in logs if e["event"] == "admin.action"]
    assert ("login", "xiaoli") in audit and ("reply", "xiaoli") in audit
    conv = await (await client.get(f"/admin/api/conversations/wechat_oa/{USER}")).json()
    assert {e["by"] for e in conv["entries"] if e["role"] in ("agent", "event")} == {"xiaoli"}


async def test_the_configs_admin_still_logs_in_and_lists_the_accounts(admin_cfg, start_console, tmp_path):
    client = await start_console(admin_cfg(admin__users_file=users_file(tmp_path, xiaoli="agent", boss="admin")))
    await log_in(client)  # the [admin] username / password_hash account
    listed = await (await client.get("/admin/api/accounts")).json()
    assert [(a["name"], a["role"]) for a in listed["accounts"]] == [("admin", "admin"), ("boss", "admin"),
                                                                    ("xiaoli", "agent")]
    assert listed["accounts"][0]["last_login"] is not None and listed["accounts"][2]["last_login"] is None
    assert "password_hash" not in str(listed)


async def test_removing_an_account_or_changing_its_role_logs_that_person_out(admin_cfg, start_console, tmp_path):
    path = users_file(tmp_path, xiaoli="agent", wang="agent")
    client = await start_console(admin_cfg(admin__users_file=path))
    other = await start_console(admin_cfg(admin__users_file=path))
    assert (await post_login(client, username="xiaoli", password=AGENT_PASSWORD)).status == 302
    assert (await post_login(other, username="wang", password=AGENT_PASSWORD)).status == 302
    assert (await client.get("/admin/api/overview")).status == 200
    users = load_users(tmp_path / "users.toml")
    users.pop("xiaoli")
    users["wang"] = Account("wang", "admin", users["wang"].password_hash)
    write_users(tmp_path / "users.toml", users)  # no restart: the next request sees it
    assert (await client.get("/admin/api/overview")).status == 401
    assert (await other.get("/admin/api/overview")).status == 401  # promoted: log in again to get the new role
    assert (await post_login(other, username="wang", password=AGENT_PASSWORD)).status == 302
    assert (await other.get("/admin/api/accounts")).status == 200


async def test_a_broken_edit_of_the_accounts_file_keeps_the_accounts_as_they_were(admin_cfg, start_console, tmp_path):
    path = users_file(tmp_path, xiaoli="agent")
    client = await start_console(admin_cfg(admin__users_file=path))
    assert (await post_login(client, username="xiaoli", password=AGENT_PASSWORD)).status == 302
    with capture_logs() as logs:
        (tmp_path / "users.toml").write_text("[users.xiaoli\n", encoding="utf-8")
        assert (await client.get("/admin/api/overview")).status == 200
    assert any(e["event"] == "admin.accounts_unreadable" for e in logs)
