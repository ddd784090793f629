"""What the console stores of shopper text: phones, ID numbers and street addresses masked."""

from __future__ import annotations

import pytest

from core.records.redact import clip, redact


@pytest.mark.parametrize("text, hidden, kept", [
    ("改地址到上海市浦东新区张杨路123号4栋501室，电话13812345678", ["张杨路", "123号", "501", "13812345678"],
     ["上海市浦东新区", "138****5678"]),
    ("收货地址：北京市朝阳区建国路88号SOHO现代城3号楼1201室", ["建国路", "88号", "1201"], ["北京市朝阳区"]),
    ("我住在幸福小区5栋2单元302", ["5栋", "302"], ["幸福小区"]),
    ("杭州西湖区文三路 90 号", ["文三路", "90"], ["杭州西湖区"]),
    ("身份证 110101199003074258", ["19900307"], ["110101"]),
])
def test_personal_details_are_masked(text, hidden, kept):
    out = redact(text)
    for h in hidden:
        assert h not in out
    for k in kept:
        assert k in out


@pytest.mark.parametrize("text", ["11月3号发货吗？运费多少", "订单2026110130007784到哪了", "请问退货地址是哪里",
                                  "满299减30的券怎么用", "客服电话021-5555-0188"])
def test_ordinary_questions_stay_readable(text):
    assert redact(text) == text


def test_clip():
    assert clip("abc", 3) == "abc"
    assert clip("abcdef", 4) == "abc…"
