"""Serialise premailer's lxml tree with ONE escaping rule, the same one :meth:`Rendition.personalise` uses.

libxml2's HTML serialiser escapes by context: ``"`` stays raw in text but not in attributes, and ``href``
values are percent-encoded. A per-recipient value substituted into the rendered HTML could then differ
from the same value put through a full render. Here every text node and attribute value is escaped with
:func:`html.escape` (``quote=True``), so the cheap substitution and a full render give the same bytes.
Raw-text elements (``style``, ``script``) and comments (Outlook's conditional comments) are written as is.
"""

from __future__ import annotations

from html import escape

from lxml import etree

#: Elements without an end tag (HTML Living Standard, "void elements").
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
#: Elements whose text is not escaped.
RAW_TEXT = frozenset({"style", "script"})


def _write(node: etree._Element, out: list[str]) -> None:
    tag = node.tag
    if tag is etree.Comment:
        out.append(f"<!--{node.text or ''}-->")
    elif tag is etree.ProcessingInstruction:
        out.append(f"<?{node.target} {node.text or ''}>")
    elif isinstance(tag, str):
        attrs = "".join(f' {name}="{escape(value)}"' for name, value in node.attrib.items())
        out.append(f"<{tag}{attrs}>")
        if tag not in VOID:
            if node.text:
                out.append(node.text if tag in RAW_TEXT else escape(node.text))
            for child in node:
                _write(child, out)
            out.append(f"</{tag}>")
    if node.tail:
        out.append(escape(node.tail))


def serialize(tree: etree._ElementTree) -> str:
    """The document as HTML text: its doctype, the root element and any comments beside it, a final newline."""
    out: list[str] = []
    doctype = tree.docinfo.doctype
    if doctype:
        out.append(doctype + "\n")
    root = tree.getroot()
    for sibling in reversed(list(root.itersiblings(preceding=True))):
        _write(sibling, out)
    _write(root, out)
    for sibling in root.itersiblings():
        _write(sibling, out)
    out.append("\n")
    return "".join(out)


def parse(html_text: str) -> etree._ElementTree:
    """Parse an HTML document into an lxml tree (the parser premailer uses)."""
    return etree.fromstring(html_text.strip(), etree.HTMLParser()).getroottree()
