"""The [knowledge] keys: calibrated defaults, bundled synonyms, and one-line errors for bad values."""

from __future__ import annotations

import pytest

from bot import config
from bot.config import ConfigError
from core.config import BUNDLED_SHOP_DIR


def test_defaults_are_the_calibrated_thresholds_and_bundled_files():
    cfg = config.demo_config()
    assert (cfg.knowledge.min_score, cfg.knowledge.min_margin) == (0.5, 0.15)
    assert cfg.synonyms_path == BUNDLED_SHOP_DIR / "synonyms.txt" and cfg.synonyms_path.is_file()


@pytest.mark.parametrize(
    ("overrides", "key"),
    [({"knowledge__min_score": -0.1}, "knowledge.min_score"), ({"knowledge__min_margin": 9.0}, "knowledge.min_margin"),
     ({"knowledge__top_k": 50}, "knowledge.top_k"), ({"knowledge__cache_ttl_s": -1}, "knowledge.cache_ttl_s"),
     ({"knowledge__synonyms": "/nonexistent/synonyms.txt"}, "knowledge.synonyms")],
)
def test_bad_values_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as exc:
        config.demo_config(**overrides)
    assert exc.value.key == key


def test_env_override_reaches_the_thresholds():
    env = {"KEFU_KNOWLEDGE_MIN_SCORE": "0.8", "KEFU_KNOWLEDGE_MIN_MARGIN": "0.2"}
    cfg = config.from_mapping({}, env=env, check=False)
    assert (cfg.knowledge.min_score, cfg.knowledge.min_margin) == (0.8, 0.2)
