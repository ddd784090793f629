"""Tokenisation: jieba words, shop synonyms folded to one form, fillers dropped."""

from __future__ import annotations

import logging

from core.config import BUNDLED_SHOP_DIR
from core.knowledge.tokenize import Synonyms, normalize_text, teach_words, tokenize

SYN = Synonyms.read(BUNDLED_SHOP_DIR / "synonyms.txt")
teach_words(SYN.words)


def test_issue_synonym_pairs_fold_to_one_token():
    assert tokenize("退款", SYN) == tokenize("退货", SYN) == tokenize("退回", SYN) == ["退货"]
    assert tokenize("寄出", SYN) == tokenize("发货", SYN) == ["发货"]
    assert tokenize("物流", SYN) == tokenize("快递", SYN) == ["快递"]
    assert tokenize("码数", SYN) == tokenize("尺码", SYN) == ["尺码"]


def test_paraphrases_meet_on_the_same_tokens():
    assert set(tokenize("码数不对可以换吗", SYN)) >= {"尺码", "换货"}
    assert tokenize("邮费怎么算", SYN)[0] == tokenize("运费多少？", SYN)[0] == "运费"
    assert "叠加" in tokenize("两张券能一起用吗", SYN)  # a multi-character phrase in the list


def test_shop_terms_are_kept_whole():
    # the default jieba dictionary cuts these into 按折/后价 and 能机/洗
    assert "折后价" in tokenize("199包邮是按折后价吗", SYN)
    assert "洗" in tokenize("羽绒服能机洗吗", SYN)
    assert "顺丰" in tokenize("能不能发顺丰", SYN)


def test_fillers_punctuation_and_greetings_are_dropped():
    assert tokenize("亲，请问一下你好呀？？", SYN) == []
    assert tokenize("  ！！  ", SYN) == []


def test_full_width_and_case_and_chinese_numerals_are_normalised():
    assert normalize_text("ＸＬ码，满３００") == "xl码,满300"
    assert normalize_text("七天无理由") == "7天无理由"
    assert normalize_text("十五天") == "15天"
    assert tokenize("七天无理由", SYN) == tokenize("7天无理由", SYN)


def test_without_synonyms_words_stay_as_written():
    assert tokenize("退款多久到账") != tokenize("退款多久到账", SYN)
    assert "退款" in tokenize("退款多久到账")


def test_synonym_file_format():
    syn = Synonyms.parse("# comment\n退货 退款/退回 | 退钱  # trailing comment\n\n单词\n退款 别的组\n")
    assert syn.fold("退钱") == "退货"
    assert syn.fold("退款") == "退货"  # first group wins for a word listed twice
    assert syn.fold("别的组") == "退款"
    assert syn.fold("单词") == "单词" and "单词" in syn.words
    assert syn.fold("未知") == "未知"


def test_jieba_is_quiet(capfd):
    tokenize("加载以后不再打印任何东西", SYN)
    assert logging.getLogger("jieba").level == logging.WARNING
    out, err = capfd.readouterr()
    assert out == "" and err == ""
