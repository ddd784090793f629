"""Parse WeChat push XML without the classic XML attacks.

A webhook is reachable by anyone on the internet, and in plaintext mode the body is not covered
by the signature, so the parser must refuse what WeChat never sends: document type declarations
(external DTDs, XXE), entity declarations (billion laughs) and processing instructions. We refuse
them *while* parsing, in expat's own callbacks, so a ``<!DOCTYPE`` typed by a shopper inside a
CDATA section is still ordinary text.

The result is the ``xmltodict`` mapping of the ``<xml>`` root: leaf elements become strings
(``None`` when empty), nested elements become dicts, repeated elements lists. Text inside leaves
is kept verbatim (a shopper's leading spaces are theirs); whitespace between elements is dropped.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

import xmltodict

MAX_DEPTH = 16  # WeChat pushes are at most three levels deep (ScanCodeInfo, SendPicsInfo)


class XmlRejected(ValueError):
    """The body is not a well-formed, plain WeChat XML document (answer 400)."""


class UnsafeXml(XmlRejected):
    """The body contains a DTD, an entity declaration or a processing instruction."""


def _refuse(what: str):
    def handler(*_args: Any) -> None:
        raise UnsafeXml(f"{what} not allowed")

    return handler


class _StrictExpat:
    """The one function of ``pyexpat`` that xmltodict calls, returning a parser that refuses
    DOCTYPE, ENTITY, external references and processing instructions as soon as it sees them."""

    ExpatError = expat.ExpatError

    @staticmethod
    def ParserCreate(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - pyexpat's name
        parser = expat.ParserCreate(*args, **kwargs)
        parser.StartDoctypeDeclHandler = _refuse("DOCTYPE")
        parser.EntityDeclHandler = _refuse("ENTITY declaration")
        parser.UnparsedEntityDeclHandler = _refuse("ENTITY declaration")
        parser.NotationDeclHandler = _refuse("NOTATION declaration")
        parser.ExternalEntityRefHandler = _refuse("external entity")
        parser.ProcessingInstructionHandler = _refuse("processing instruction")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        return parser


def _clean(node: Any, depth: int = 0) -> Any:
    """Drop the whitespace xmltodict keeps between child elements; refuse absurd nesting."""
    if depth > MAX_DEPTH:
        raise XmlRejected("nested too deeply")
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "#text" and (value is None or not value.strip()):
                continue
            out[key] = _clean(value, depth + 1)
        return out
    if isinstance(node, list):
        return [_clean(v, depth + 1) for v in node]
    return node


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """Return the children of the ``<xml>`` root as a dict, or raise ``XmlRejected``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body.strip():
        raise XmlRejected("empty body")
    try:
        doc = xmltodict.parse(body, expat=_StrictExpat, strip_whitespace=False, disable_entities=True)
    except UnsafeXml:
        raise
    except (expat.ExpatError, ValueError, TypeError, UnicodeError, LookupError) as exc:
        # ValueError also covers xmltodict's own "entities are disabled"; LookupError is expat's
        # answer to an unknown encoding="..." in the XML declaration (found by the fuzz tests).
        raise XmlRejected(f"malformed XML ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or set(doc) != {"xml"}:
        raise XmlRejected("root element is not <xml>")
    root = doc["xml"]
    if not isinstance(root, dict):
        raise XmlRejected("<xml> has no fields")
    return _clean(root)
