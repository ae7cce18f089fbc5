"""Signed declarations: export, import into another registry, and a parser that turns every
bad file into a clear user error (exit 2 / HTTP 4xx), never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.cli import main
from clearance.core import Permission, Price, Usage
from clearance.core.errors import NotFound, UserError
from clearance.core.models import IdentifierScheme, VerificationLevel
from clearance.evidence.canonical import b64encode, canonical_json
from clearance.evidence.errors import MalformedEvidence
from clearance.evidence.keys import sign
from clearance.registry import SqlStore, TermsChange, add_works, init_store, parse_identifier
from clearance.registry.declarations import (
    export_declarations,
    import_declarations,
    parse_declarations,
)
from clearance.registry.parties import add_key, create_party

ISCC = "iscc:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY"


def _ann_registry(store: SqlStore, key: Ed25519PrivateKey) -> None:
    create_party(store, "Ann")
    add_key(store, "Ann", key.public_key(), actor="Ann")
    add_works(
        store,
        ["https://ann.example/fox.jpg", "isbn:9780306406157"],
        owner="Ann",
        terms=TermsChange(
            {
                Usage.TRAIN_AI: Permission.DENY,
                Usage.SEARCH: Permission.ALLOW,
                Usage.OUTPUT: Permission.LICENSE,
            },
            prices={Usage.OUTPUT: Price.parse("0.01", "EUR", "output")},
        ),
    )
    fox = store.list_works(owner="Ann")[0]
    store.register(
        _spec("Ann", (parse_identifier("https://ann.example/fox.jpg"), parse_identifier(ISCC)))
    )
    assert len(store.get_work(fox.id).identifiers) == 2


def _spec(owner: str, idents: tuple[Any, ...]) -> Any:
    from clearance.core.models import WorkKind
    from clearance.registry import WorkSpec

    return WorkSpec(WorkKind.IMAGE, owner, idents)


@pytest.fixture
def declaration(tmp_path: Path, signing_key: Ed25519PrivateKey) -> dict[str, Any]:
    with init_store(str(tmp_path / "origin.db")) as origin:
        _ann_registry(origin, signing_key)
        return export_declarations(origin, "Ann", signing_key)


def test_a_declaration_travels_to_another_registry(
    store: SqlStore, declaration: dict[str, Any], signing_key: Ed25519PrivateKey
) -> None:
    fox = declaration["works"][0]
    assert fox["identifiers"][0] == {"scheme": "iscc", "value": ISCC.upper()}  # ISCC first
    assert fox["content_usage"] == "train-ai=n, search=y"
    assert fox["usages"] == {"train-ai": "deny", "search": "allow", "output": "license"}
    data = json.dumps(declaration).encode()
    with pytest.raises(NotFound, match="not bound"):  # the key means nothing here yet
        import_declarations(store, data)
    create_party(store, "Ann")
    add_key(store, "Ann", signing_key.public_key(), actor="Operator")
    result = import_declarations(store, data)
    assert [r.status.value for r in result.registrations] == ["created", "created"]
    work = result.registrations[0].work
    assert work.owner.name == "Ann" and work.owner.verification is VerificationLevel.KEY
    assert {i.scheme for i in work.identifiers} == {IdentifierScheme.ISCC, IdentifierScheme.URL}
    assert work.terms.effective()[Usage.TRAIN_GENAI] is Permission.DENY
    assert work.terms.prices[Usage.OUTPUT] == Price.parse("0.01", "EUR", "output")
    again = import_declarations(store, data)  # idempotent
    assert [r.status.value for r in again.registrations] == ["existing", "existing"]
    audit = [(e.actor, e.action) for e in store.audit_log()]
    assert ("Ann", "declarations.import") in audit and ("Ann", "work.create") in audit
    # the key's party here must be the one the declaration names
    create_party(store, "Other")
    other = Ed25519PrivateKey.generate()
    add_key(store, "Other", other.public_key(), actor="Operator")
    with pytest.raises(UserError, match="belongs to"):
        import_declarations(store, _resign(declaration, other))


def _resign(doc: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    from clearance.evidence.keys import key_id, public_b64

    body = {k: v for k, v in doc.items() if k != "signature"}
    body["key"] = {
        "algorithm": "Ed25519",
        "public_key": public_b64(key.public_key()),
        "key_id": key_id(key.public_key()),
    }
    body["signature"] = b64encode(sign(key, canonical_json(body)))
    return json.dumps(body).encode()


def test_a_changed_declaration_does_not_verify(declaration: dict[str, Any]) -> None:
    changed = json.loads(json.dumps(declaration))
    changed["works"][0]["usages"]["train-ai"] = "allow"
    changed["works"][0]["content_usage"] = "train-ai=y, search=y"
    with pytest.raises(MalformedEvidence, match="signature does not verify"):
        parse_declarations(json.dumps(changed))
    moved = json.loads(json.dumps(declaration))
    moved["party"]["name"] = "Mallory"
    with pytest.raises(MalformedEvidence, match="signature"):
        parse_declarations(json.dumps(moved))


def test_content_usage_alone_is_enough_and_must_agree_with_usages(
    declaration: dict[str, Any], signing_key: Ed25519PrivateKey
) -> None:
    doc = json.loads(json.dumps(declaration))
    for w in doc["works"]:
        w.pop("usages")
        w["prices"] = {}
    parsed = parse_declarations(_resign(doc, signing_key))
    terms = parsed.works[0].terms
    assert terms is not None and terms.set == {
        Usage.TRAIN_AI: Permission.DENY,
        Usage.SEARCH: Permission.ALLOW,
    }
    doc["works"][0]["usages"] = {"train-ai": "allow", "search": "allow"}
    with pytest.raises(MalformedEvidence, match="content_usage says train-ai=deny"):
        parse_declarations(_resign(doc, signing_key))


def test_the_cli_exports_and_imports_and_refuses_junk_with_exit_2(
    tmp_path: Path,
    keypair: tuple[Path, Path],
    signing_key: Ed25519PrivateKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    origin, target = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    with init_store(origin) as store:
        _ann_registry(store, signing_key)
    out = tmp_path / "ann.json"
    args = ["declarations", "export", "--party", "Ann", "--key", str(keypair[0])]
    assert main([*args, "--out", str(out), "-r", origin, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["works"] == 2
    init_store(target).close()
    assert main(["declarations", "import", str(out), "-r", target]) == 2
    assert "not bound" in capsys.readouterr().err
    assert main(["parties", "create", "Ann", "-r", target]) == 0
    assert main(["parties", "add-key", "Ann", "--pubkey", str(keypair[1]), "-r", target]) == 0
    capsys.readouterr()
    assert main(["declarations", "import", str(out), "-r", target, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    for junk in (b"", b"{", b"[]", b'{"format": "clearance.declarations"}', b"\xff" * 10):
        bad = tmp_path / "bad.json"
        bad.write_bytes(junk)
        assert main(["declarations", "import", str(bad), "-r", target]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "internal" not in err
    assert main(["declarations", "import", str(tmp_path / "none.json"), "-r", target]) == 2
    other = tmp_path / "other.key"
    from clearance.evidence.keys import generate_keypair

    generate_keypair(other)
    assert main([*args[:-1], str(other), "--out", str(tmp_path / "x.json"), "-r", origin]) == 2
    assert "not bound" in capsys.readouterr().err


def _mutations(doc: dict[str, Any]) -> st.SearchStrategy[bytes]:
    text = json.dumps(doc)
    raw = text.encode()
    json_values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )

    def replace_field(path: list[str], value: Any) -> bytes:
        changed = json.loads(text)
        node = changed
        for key in path[:-1]:
            node = node[key] if not isinstance(node, list) else node[0]
        if isinstance(node, dict):
            node[path[-1]] = value
        return json.dumps(changed).encode()

    paths = st.sampled_from(
        [
            ["format"],
            ["format_version"],
            ["party"],
            ["party", "name"],
            ["key"],
            ["key", "public_key"],
            ["issued_at"],
            ["works"],
            ["works", "0", "identifiers"],
            ["works", "0", "usages"],
            ["works", "0", "prices"],
            ["works", "0", "content_usage"],
            ["works", "0", "kind"],
            ["signature"],
            ["extra"],
        ]
    )
    return st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda i, b: raw[:i] + bytes([b]) + raw[i + 1 :],
            st.integers(0, len(raw) - 1),
            st.integers(0, 255),
        ),
        st.builds(lambda n: raw[:n], st.integers(0, len(raw))),
        st.builds(replace_field, paths, json_values),
        json_values.map(lambda v: json.dumps(v).encode()),
    )


def test_the_parser_never_crashes(declaration: dict[str, Any]) -> None:
    """Any bytes: a verified declaration or a ``UserError`` (exit 2 / HTTP 4xx), nothing else."""

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutations(declaration))
    def check(data: bytes) -> None:
        try:
            parsed = parse_declarations(data)
        except UserError as exc:
            assert exc.exit_code == 2 and 400 <= exc.http_status < 500
        else:  # only a byte change that keeps the signed content (whitespace) can pass
            assert parsed.party == "Ann" and len(parsed.works) == 2

    check()


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([u for u in Usage if u is not Usage.OUTPUT]),
        st.sampled_from([Permission.ALLOW, Permission.DENY]),
    )
)
def test_the_aipref_statement_reads_back_as_the_stated_usages(
    stated: dict[Usage, Permission],
) -> None:
    from clearance.signals.aipref import parse_content_usage
    from clearance.signals.mapping import content_usage_statement, evidence_from_content_usage

    text = content_usage_statement(stated)
    read = {e.usage: e.permission for e in evidence_from_content_usage(parse_content_usage(text))}
    assert read == stated
