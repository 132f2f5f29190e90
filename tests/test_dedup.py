"""bot.dedup: canonical_url, title_fingerprint, item_keys."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import canonical_url, item_keys, title_fingerprint
from bot.models import Item

# -- canonical_url -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://example.com/news/1", "https://example.com/news/1"),
        ("HTTPS://EXAMPLE.COM/News/1", "https://example.com/News/1"),  # path case kept
        ("http://example.com/news/1", "https://example.com/news/1"),  # http == https
        ("https://example.com/news/1/", "https://example.com/news/1"),
        ("https://example.com/news/1///", "https://example.com/news/1"),
        ("https://example.com//news//1", "https://example.com/news/1"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com./a", "https://example.com/a"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        (
            "https://example.com/a?utm_source=rss&utm_medium=feed&UTM_Campaign=x&id=7",
            "https://example.com/a?id=7",
        ),
        ("https://example.com/a?fbclid=abc123", "https://example.com/a"),
        ("https://example.com/a?gclid=1&ref=tw&page=2", "https://example.com/a?page=2"),
        ("https://example.com/a?x=&y=1", "https://example.com/a?x=&y=1"),
        ("https://example.com/a?q=a+b", "https://example.com/a?q=a+b"),
        ("https://example.com/a?q=a%20b", "https://example.com/a?q=a+b"),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_tracking_variants_collapse():
    variants = [
        "http://Example.com/story/42/?utm_source=twitter#top",
        "https://example.com/story/42?fbclid=XYZ",
        "https://EXAMPLE.com:443/story/42",
        "https://example.com/story/42/",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "/relative/path",
        "mailto:editor@example.com",
        "ftp://Example.com/File",
        "urn:isbn:0451450523",
        "http://[::1",  # unbalanced IPv6 bracket
        "http://example.com:99999/a",  # port out of range
        "http://example.com:abc/a",  # port not a number
        "https:///no-host",
        "javascript:alert(1)",
    ],
)
def test_invalid_or_non_http_urls_returned_unchanged(url):
    assert canonical_url(url) == url


def test_ipv6_host_keeps_brackets():
    assert canonical_url("http://[2001:db8::1]:8080/x") == "https://[2001:db8::1]:8080/x"


def test_whitespace_before_fragment():
    once = canonical_url("https://a.example/x/ #top")
    assert canonical_url(once) == once


# -- title_fingerprint -----------------------------------------------------------------


@pytest.mark.parametrize("title", ["", "Update", "Live updates", "Kabul blast kills", "!!! ---"])
def test_short_titles_have_no_fingerprint(title):
    assert title_fingerprint(title) is None


def test_fingerprint_ignores_case_punctuation_and_accents():
    variants = [
        "Blast in Dushanbe kills two",
        "BLAST IN DUSHANBE KILLS TWO",
        "Blast in Dushanbé kills two!",
        "  Blast -- in Dushanbe: kills two ",
        "Blast in «Dushanbe» kills two...",
    ]
    fingerprints = {title_fingerprint(v) for v in variants}
    assert len(fingerprints) == 1
    (fp,) = fingerprints
    assert fp is not None
    assert len(fp) == 20
    assert int(fp, 16) >= 0  # hex


def test_fingerprint_distinguishes_different_titles():
    assert title_fingerprint("Blast in Dushanbe kills two") != title_fingerprint(
        "Blast in Dushanbe kills three"
    )


def test_fingerprint_is_stable():
    """Stored in the database: must not change between runs or versions."""
    assert title_fingerprint("Blast in Dushanbe kills two") == title_fingerprint(
        "blast in dushanbe kills two"
    )
    assert title_fingerprint("Four words are enough") is not None


# -- item_keys --------------------------------------------------------------------------


def item(**kw) -> Item:
    base = {
        "feed_url": "https://feeds.example/a.rss",
        "guid": "guid-1",
        "url": "https://news.example/story/1",
        "title": "Blast in Dushanbe kills two",
    }
    base.update(kw)
    return Item(**base)


def test_item_keys_guid_first_then_url_then_title():
    keys = item_keys(item())
    assert len(keys) == 3
    assert keys[0].startswith("guid:")
    assert keys[1].startswith("url:")
    assert keys[2].startswith("title:")
    assert len(set(keys)) == 3


def test_item_keys_without_url_or_long_title():
    keys = item_keys(item(url="", title="Update"))
    assert len(keys) == 1
    assert keys[0].startswith("guid:")


def test_guid_key_is_scoped_to_the_feed():
    a = item_keys(item())
    b = item_keys(item(feed_url="https://feeds.example/b.rss"))
    assert a[0] != b[0]
    assert a[1:] == b[1:]  # same article: same URL and title keys


def test_url_key_uses_canonical_url():
    a = item_keys(item(url="http://NEWS.example/story/1/?utm_source=rss#x"))
    b = item_keys(item(url="https://news.example/story/1"))
    assert a[1] == b[1]


def test_title_key_matches_across_feeds_and_urls():
    a = item_keys(item(guid="1", url="https://a.example/x", title="Blast in Dushanbe kills two"))
    b = item_keys(
        item(
            feed_url="https://other.example/rss",
            guid="2",
            url="https://b.example/y",
            title="BLAST IN DUSHANBE KILLS TWO",
        )
    )
    assert a[0] != b[0]
    assert a[1] != b[1]
    assert a[2] == b[2]


def test_item_keys_are_deterministic():
    assert item_keys(item()) == item_keys(item())


# -- properties -----------------------------------------------------------------------------

_LABEL = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=8
)
_HOST = st.lists(_LABEL, min_size=1, max_size=3).map(".".join)
_SEGMENT = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%!$'()*+,;=:@",
    max_size=8,
)
_PARAM_NAME = st.one_of(
    st.sampled_from(["utm_source", "UTM_medium", "fbclid", "gclid", "ref", "id", "page", "q"]),
    _LABEL,
)
_PARAM_VALUE = st.text("abcXYZ019-_.%+=/?&", max_size=6)


@st.composite
def urls(draw) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_HOST)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/".join(draw(st.lists(_SEGMENT, max_size=4)))
    slash = draw(st.sampled_from(["", "/"]))
    params = draw(st.lists(st.tuples(_PARAM_NAME, _PARAM_VALUE), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?b=c"]))
    url = f"{scheme}://{host}{port}/{path}{slash}"
    if query:
        url += "?" + query
    return url + fragment


_NO_SPACE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=60
)


@settings(derandomize=True, database=None, max_examples=150)
@given(st.one_of(urls(), _NO_SPACE_TEXT))
def test_canonical_url_is_idempotent(url):
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(derandomize=True, database=None, max_examples=150)
@given(urls())
def test_canonical_url_of_http_urls(url):
    out = canonical_url(url)
    parts = urlsplit(out)
    assert parts.scheme == "https"
    assert parts.fragment == ""
    assert parts.netloc == parts.netloc.lower()
    names = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    assert names == sorted(names)
    lower = [k.lower() for k in names]
    assert not [k for k in lower if k.startswith("utm_") or k in ("fbclid", "gclid", "ref")]


@settings(derandomize=True, database=None, max_examples=150)
@given(st.one_of(st.text(), urls().map(lambda u: u.replace("/", "[", 1))))
def test_canonical_url_never_raises(text):
    assert isinstance(canonical_url(text), str)


# canonical_url's shortcut for plain links must give what the general rules give.
_URL_PIECES = st.sampled_from(
    ["a", "Z", "0", "-", ".", "_", "~", "%", "%2F", "/", "//", "?", "=", "&", "#", ":", "@", " "]
)
_HOSTS = st.sampled_from(
    [
        "example.com",
        "Example.COM",
        "news1.example.com",
        "a",
        "a.",
        "1.2.3.4",
        "-x.org",
        "x-.org",
        "example.com:80",
        "example.com:8080",
        "[2001:db8::1]",
        "b..c",
        "xn--80ak6aa92e.com",
        "",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
    host=_HOSTS,
    path=st.lists(_URL_PIECES, max_size=10).map("".join),
    pad=st.sampled_from(["", " ", "\t", "\n"]),
)
def test_canonical_url_shortcut_agrees_with_the_general_rules(scheme, host, path, pad) -> None:
    from bot.dedup import _canonical_general

    url = f"{scheme}://{host}{path}" if scheme else f"{host}{path}"
    assert canonical_url(pad + url + pad) == _canonical_general(url.strip())
