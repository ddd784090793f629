"""The WeCom side of ``kefu simulate --platform wecom``: the fake WeCom server for a config, and
the config kefu runs with against it. Composition (it builds a ``Config``), so it lives in
``bot``; what plays the customer is ``adapters.simulator.wecom_client``.
"""

from __future__ import annotations

import dataclasses

from adapters.simulator.wecom_client import (
    SIM_AES_KEY,
    SIM_CORP_ID,
    SIM_OPEN_KFID,
    SIM_SECRET,
    SIM_TOKEN,
)
from bot.config import validate
from core.clock import Clock
from core.config import Config
from fakes.wecom_api import FakeWecomApi


def fake_wecom_api(cfg: Config, clock: Clock) -> FakeWecomApi:
    """The fake server with the config's credentials (or the simulator's own)."""
    k = cfg.wecom
    return FakeWecomApi(corp_id=k.corp_id or SIM_CORP_ID, secret=k.secret or SIM_SECRET,
                        open_kfid=k.open_kfid or SIM_OPEN_KFID, clock=clock)


def wecom_sim_config(cfg: Config, fake: FakeWecomApi) -> Config:
    """``cfg`` with ``[wecom]`` enabled against ``fake`` (credentials it lacks are filled in)."""
    k = cfg.wecom
    wecom = dataclasses.replace(k, enabled=True, api_base=fake.url, corp_id=fake.corp_id, secret=fake.secret,
                                open_kfid=fake.open_kfid, token=k.token or SIM_TOKEN,
                                encoding_aes_key=k.encoding_aes_key or SIM_AES_KEY)
    out = dataclasses.replace(cfg, wecom=wecom)
    validate(out)
    return out
