"""One hardened lxml parser for hostile XML (feeds on the fast path, OPML files).

Feed and OPML text comes from anyone: entities are never expanded (billion
laughs), no DTD or external resource is loaded (XXE, network access),
libxml2's depth and size limits stay on (huge_tree=False), and malformed
documents are errors, not guesses (recover=False). Kept in one place so the two
readers cannot drift apart on a defence.
"""

from __future__ import annotations

from lxml import etree


def hardened_parser() -> etree.XMLParser:
    """A new parser with every defence on; comments and processing instructions
    are dropped, since neither reader wants them."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
    )
