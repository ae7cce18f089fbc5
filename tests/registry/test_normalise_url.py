"""``normalise_url``'s fast path for plain ASCII URLs gives the general path's answer exactly."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clearance.core.errors import UserError
from clearance.registry.identifiers import _normalise_url, normalise_url


def _general(url: str) -> str | None:
    try:
        return _normalise_url(url)
    except UserError:
        return None


def _either(url: str) -> str | None:
    try:
        return normalise_url(url)
    except UserError:
        return None


HOSTS = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.com.",
        "a-b.c",
        "-bad.com",
        "x..y",
        "a" * 64 + ".com",
        "1.2.3.4",
        "xn--bcher-kva.de",
        "bücher.de",
        "[::1]",
        "user@host.com",
        "h_st.com",
        "",
        ".",
    ]
)
PORTS = st.sampled_from(
    ["", ":", ":80", ":443", ":0", ":8080", ":00080", ":65536", ":99999", ":123456", ":x"]
)
TAILS = st.text(alphabet="/?#%&=.~:@!$'()*+,;[]\\\"<> \t\x00ÄabcXYZ019-_", max_size=24)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "HtTpS", "ftp", ""]),
    host=HOSTS,
    port=PORTS,
    tail=TAILS,
    pad=st.sampled_from(["", " ", "\n", " \t"]),
)
@example(scheme="http", host="a.com", port=":0", tail="/", pad="")
@example(scheme="https", host="a.com", port="", tail="?", pad="")
@example(scheme="https", host="a.com", port="", tail="#x?y", pad="")
def test_fast_path_agrees_with_the_general_one(
    scheme: str, host: str, port: str, tail: str, pad: str
) -> None:
    url = f"{pad}{scheme}://{host}{port}{tail}{pad}"
    assert _either(url) == _general(url), url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/A?b=1#frag", "https://example.com/A?b=1"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://example.com./x?", "http://example.com/x"),
    ],
)
def test_examples(url: str, expected: str) -> None:
    assert normalise_url(url) == expected
