"""``make demo``: the registry end to end on embedded SQLite with generated sample data.

It creates a fresh registry under ``demo-output/``, registers works for three
kinds of rights holder (one who opts out, one who licenses, one who allows),
claims a whole site by domain, shows a disputed claim, and then resolves what a
dataset builder may do with each sample file, with the evidence. The dataset
scan then runs for real: once over the samples folder, and once over a small
JSONL of URL rows served by a local web site (robots.txt and tdmrep.json on
127.0.0.1) that the demo starts itself. Both scans are signed; the demo then
verifies them, proves to one rights holder that her works were excluded, and
writes the EU training-content summary, the AB 2013 disclosure and the
copyright policy for a model trained on the two datasets together.

With ``--serve`` (``make demo-serve``) it then serves that registry with
``clearance serve`` (the address is printed first) until Ctrl-C, with an
owner key and requests to paste; ``--reuse`` serves what an earlier run left.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console

from clearance.cli import main as cli
from clearance.cli.output import new_table
from clearance.config import Settings
from clearance.core import IdentifierScheme, Mode, Usage, resolve
from clearance.fingerprint import sha256_file
from clearance.matching.decide import terms_evidence
from clearance.scan.decide import reason, reason_text
from clearance.service import open_registry

TEXTS = {
    "ann/essay.txt": "Rights holders ask for consent, credit and compensation before their work "
    "is used to train generative models; this essay explains why the opt-out must be honoured.",
    "ben/lyrics.txt": "Under the harbour lights we sang until the morning came, and every wave "
    "that broke the silence seemed to call your name.",
    "cleo/notes.txt": "Field notes, released for anyone to use: the heron returned to the marsh "
    "at dawn and stayed until the fog had lifted from the reeds.",
}


def _image(path: Path, seed: int, xmp: bytes | None = None) -> None:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640]
    channels = [
        127
        + 100
        * np.sin(x * rng.uniform(0.01, 0.05) + rng.uniform(0, 6))
        * np.cos(y * rng.uniform(0.01, 0.05))
        for _ in range(3)
    ]
    img = Image.fromarray(np.stack(channels, -1).clip(0, 255).astype(np.uint8))
    if xmp is None:
        img.save(path, quality=90)
    else:
        img.save(path, quality=90, xmp=xmp)


def _make_samples(root: Path) -> None:
    for rel, text in TEXTS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    for i, who in enumerate(("ann", "ann", "ben", "cleo")):
        _image(root / who / f"picture{i}.jpg", i)
    (root / "ann" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not a real jpeg")
    # An unregistered photo whose own IPTC metadata reserves AI training (plus:DataMining).
    (root / "web").mkdir(exist_ok=True)
    _image(root / "web" / "tagged-photo.jpg", 7, xmp=IPTC_XMP)


IPTC_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
    b"<plus:DataMining>http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
    b"</plus:DataMining></rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


def _run(*args: str) -> None:
    print(f"\n$ {shlex.join(['clearance', *args])}", flush=True)  # pasteable as printed
    code = cli(list(args))
    if code != 0:
        raise SystemExit(f"demo step failed with exit code {code}")


SITE_FILES = {
    "/robots.txt": b"User-agent: GPTBot\nDisallow: /books/\n\nUser-agent: *\nAllow: /\n",
    "/.well-known/tdmrep.json": json.dumps(
        [
            {"location": "/books/*", "tdm-reservation": 1},
            {"location": "/*", "tdm-reservation": 0},
        ]
    ).encode(),
}


class _SiteHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = SITE_FILES.get(self.path.split("?", 1)[0])
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@contextmanager
def _local_site() -> Iterator[str]:
    """A tiny web site on 127.0.0.1 publishing robots.txt and tdmrep.json."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _scan_steps(out: Path, samples: Path, reg: str, console: Console) -> None:
    r = ("--registry", reg)
    signed = (*r, "--sign-key", str(out / "operator.key"))
    _run("keys", "generate", "--out", str(out / "operator.key"))
    _run("scan", str(samples), "--out", str(out / "scan-samples"), "--web", "off", *signed)
    with _local_site() as origin:
        _run(
            "works",
            "add",
            f"{origin}/licensed/*",
            "--owner",
            "Ben (songwriter, licenses)",
            "--license",
            "train-ai",
            "--price",
            "5",
            "--currency",
            "EUR",
            "--per",
            "run",
            *r,
        )
        rows = out / "urls.jsonl"
        paths = [
            "/books/1.jpg",
            "/books/2.jpg",
            "/open/3.jpg",
            "/licensed/4.jpg",
            "/licensed/5.jpg",
        ]
        rows.write_text(
            "".join(json.dumps({"url": origin + p, "caption": p}) + "\n" for p in paths),
            encoding="utf-8",
        )
        _run("scan", str(rows), "--out", str(out / "scan-urls"), "--allow-private", *signed)
    for name in ("scan-samples", "scan-urls"):
        console.print(f"report: [bold]{out / name / 'report.html'}[/] (and report.json)")
    _evidence_steps(out, console)


DEMO_INFO = """\
# What the scans cannot know about the model trained on the two demo datasets.
provider:
  name: Demo Models Ltd
  contact: rights@demo-models.example
model:
  name: demo-gen 0.1
  placed_on_market: 2026-06-01
  modalities: [image, text]
  intended_purpose: a demonstration of Clearance
datasets:
  scan-samples: {name: Sample files, kind: licensed, owner: the demo's rights holders}
  scan-urls: {name: Web images, kind: crawled, owner: the site on 127.0.0.1}
crawlers:
  - {name: Clearance, purpose: demo, behaviour: "reads robots.txt, ai.txt and tdmrep.json"}
"""


def _evidence_steps(out: Path, console: Console) -> None:
    """Verify the signed scans, prove an opt-out to its owner, write the compliance texts."""
    from clearance.evidence import load_public_key, verify_run

    scans = [str(out / "scan-samples"), str(out / "scan-urls")]
    pub = str(out / "operator.key.pub")
    for d in scans:
        _run("verify", d, "--pubkey", pub)
    proof = out / "proof-ann.json"
    _run("prove", scans[0], "--owner", "Ann (illustrator, opts out)", "--out", str(proof))
    manifest = json.loads((out / "scan-samples" / "manifest.json").read_text(encoding="utf-8"))
    _run("verify-proof", str(proof), "--root", manifest["merkle"]["root"], "--pubkey", pub)
    info = out / "model.yaml"
    info.write_text(DEMO_INFO, encoding="utf-8")
    eu = out / "eu-summary.md"
    _run("report", *scans, "--format", "eu-summary", "--info", str(info), "--out", str(eu))
    ab = out / "ab2013.html"
    _run("report", *scans, "--format", "ab2013", "--info", str(info), "--out", str(ab))
    _run("policy", "--scan", scans[1], "--info", str(info), "--out", str(out / "policy.md"))
    key = load_public_key(pub)
    results = [verify_run(d, pubkey=key) for d in scans]
    console.print()
    for res in results:
        state = "[green]OK[/]" if res.ok else f"[red]{len(res.findings)} differences[/]"
        console.print(
            f"verify {res.dir.name}: {state} ({res.items} rows, run root {res.run_root[:16]}…, "
            f"signed by key {res.key_id})"
        )
    console.print(f"EU summary: [bold]{eu}[/]  (AB 2013: {ab})")


def run_demo(out: Path) -> int:
    console = Console()
    if out.exists():
        shutil.rmtree(out)
    samples = out / "samples"
    samples.mkdir(parents=True)
    _make_samples(samples)
    reg = str(out / "clearance.db")
    r = ("--registry", reg)
    _run("init", *r)
    _run(
        "works",
        "add",
        str(samples / "ann"),
        "--owner",
        "Ann (illustrator, opts out)",
        "--deny",
        "tdm",
        "--deny",
        "output",
        *r,
    )
    _run(
        "works",
        "add",
        str(samples / "ben"),
        "--owner",
        "Ben (songwriter, licenses)",
        "--license",
        "train-ai,output",
        "--price",
        "0.02",
        "--currency",
        "EUR",
        *r,
    )
    _run(
        "works",
        "add",
        str(samples / "cleo"),
        "--owner",
        "Cleo (naturalist, allows)",
        "--allow",
        "all",
        *r,
    )
    _run(
        "works",
        "add",
        "domain:ann-illustrates.example",
        "https://ben-music.example/lyrics/*",
        "--owner",
        "Ann (illustrator, opts out)",
        "--deny",
        "train-ai",
        *r,
    )
    _run(
        "works",
        "add",
        str(samples / "ben" / "picture2.jpg"),
        "--owner",
        "Dana (claims Ben's photo)",
        *r,
    )
    _run("terms", "set", "--owner", "Cleo (naturalist, allows)", "--allow", "search", *r)
    _run("works", "list", *r)

    settings = Settings(registry=reg)
    table = new_table(
        "file",
        "owner",
        "opt-out mode",
        "opt-in mode",
        "evidence",
        title="What may a dataset builder do with each file? (purpose train-genai)",
    )
    with open_registry(settings) as store:
        for path in sorted(p for p in samples.rglob("*") if p.is_file()):
            works = store.find_works(IdentifierScheme.SHA256, sha256_file(path))
            evidence = [e for w in works for e in terms_evidence(w)]  # the deciders' own
            d_out = resolve(evidence, Usage.TRAIN_GENAI, Mode.OPT_OUT)
            d_in = resolve(evidence, Usage.TRAIN_GENAI, Mode.OPT_IN)
            verdict = {True: "[green]include[/]", False: "[red]exclude[/]"}
            lic = " (needs licence)" if d_out.permission.value == "license" else ""
            table.add_row(
                str(path.relative_to(samples)),
                ", ".join(sorted({w.owner.name for w in works})) or "-",
                verdict[d_out.allowed] + lic,
                verdict[d_in.allowed] + lic,
                "\n".join(reason_text(reason(e)) for e in d_out.evidence) or "no registry entry",
            )
    console.print(table)
    try_it = shlex.join(["clearance", "works", "show", "1", "--registry", reg])
    console.print(f"\nRegistry: [bold]{reg}[/]  (try: {try_it})", highlight=False)
    _scan_steps(out, samples, reg, console)
    _licensing_steps(out, samples, reg, console)
    _web_step(reg, console)
    return 0


def _web_step(reg: str, console: Console, url: str = "http://127.0.0.1:8000") -> None:
    """Seed the web accounts and say how to open the web app (without blocking on a server)."""
    console.rule("The web app")
    accounts = seed_web_accounts(reg)
    serve = shlex.join(["clearance", "serve", "--registry", reg])
    print(f"\n$ {serve}   # start it (or: make demo-serve), then open {url}/", flush=True)
    print_web_access(console, url, accounts)


WEB_PASSWORD = "clearance-demo"
WEB_ACCOUNTS = (
    ("ann@demo.example", "Ann (illustrator, opts out)", "creator"),
    ("ben@demo.example", "Ben (songwriter, licenses)", "creator"),
    ("genco@demo.example", "GenCo", "developer"),
    ("admin@demo.example", "Demo operator", "admin"),
)


def seed_web_accounts(registry: str) -> list[dict[str, str]]:
    """Web accounts for the demo's parties (creators Ann and Ben, developer GenCo, an admin).

    Each is attached to its party (``claim``: the demo made them first); a
    second call leaves the existing accounts as they are. Returns each
    account's email, password, party and role, for ``print_web_access``.
    """
    from clearance.registry.accounts import create_account, list_accounts

    with open_registry(Settings(registry=registry)) as store:
        have = {a.email for a in list_accounts(store)}
        for email, party, role in WEB_ACCOUNTS:
            if email not in have:
                create_account(store, email, WEB_PASSWORD, party=party, role=role, claim=True)
    return [
        {"email": email, "password": WEB_PASSWORD, "party": party, "role": role}
        for email, party, role in WEB_ACCOUNTS
    ]


def print_web_access(console: Console, url: str, accounts: list[dict[str, str]]) -> None:
    """Where the web app is, and who to sign in as (for the demo's service step)."""
    table = new_table("sign in as", "password", "party", "pages", title=f"The web app: {url}")
    for a in accounts:
        table.add_row(a["email"], a["password"], a["party"], f"{url.rstrip('/')}/{a['role']}")
    console.print(table)


def _run_refused(*args: str) -> None:
    """A step that must fail with a user error (exit 2): the demo shows the refusal."""
    print(f"\n$ clearance {' '.join(args)}   # must be refused", flush=True)
    code = cli(list(args))
    if code != 2:
        raise SystemExit(f"demo step should have been refused (exit 2), got {code}")


def _licensing_steps(out: Path, samples: Path, reg: str, console: Console) -> None:
    """Licensing that pays: offers, requests, acceptance, a licensed scan, a run ledger,
    outputs under licence, statements exact to the cent, and an opt-out that reaches the run."""
    from datetime import UTC, datetime

    from clearance.licensing.requests import list_requests

    r = ("--registry", reg)
    root = out / "licensing"
    eve, data = root / "eve", root / "dataset"
    eve.mkdir(parents=True)
    data.mkdir()
    for i in range(3):
        _image(eve / f"photo{i}.jpg", 20 + i)
    for i, copies in enumerate((2, 1, 1)):
        for k in range(copies):
            shutil.copy(eve / f"photo{i}.jpg", data / f"eve-{i}-{k}.jpg")
    shutil.copy(samples / "ben" / "picture2.jpg", data / "ben-picture.jpg")
    shutil.copy(samples / "cleo" / "picture3.jpg", data / "cleo-picture.jpg")
    shutil.copy(eve / "photo0.jpg", root / "model-output.jpg")
    console.rule("Licensing that pays")
    owner = "Eve (photographer, prices per usage)"
    # 1. an owner offers training and outputs at different prices, and publishes them as RSL
    prices = "train-genai=0.02/item,output=0.01/output"
    _run("works", "add", str(eve), "--owner", owner, "--contact", "licensing@eve.example",
         "--license", prices, "--currency", "EUR", *r)  # fmt: skip
    _run("offers", "list", "--owner", owner, *r)
    _run("offers", "export", "--owner", owner, "--format", "rsl",
         "--out", str(root / "eve-offers.rsl.xml"), *r)  # fmt: skip
    # 2. a scan needs licences and produces requests, one per owner
    _run("scan", str(data), "--out", str(root / "scan-1"), "--web", "off", *r)
    _run("license", "request", "--scan", str(root / "scan-1"), "--licensee", "GenCo",
         "--usage", "output", *r)  # fmt: skip
    # 3. each owner accepts their request; a stranger cannot
    with open_registry(Settings(registry=reg)) as store:
        pending = list_requests(store, licensee="GenCo", status="pending")
    _run_refused("license", "accept", str(pending[0].id), "--owner", "Mallory", *r)
    for request in pending:
        _run("license", "accept", str(request.id), "--owner", request.owner, *r)
    # 4. the re-scan with --licensee includes the licensed works
    scan2 = str(root / "scan-2")
    _run("scan", str(data), "--out", scan2, "--web", "off", "--licensee", "GenCo", *r)
    # 5. the run is recorded twice and counted once
    for _ in range(2):
        _run("runs", "record", "--scan", scan2, "--name", "genco-img-1", "--model", "GenCo Image 1",
             "--licensee", "GenCo", *r)  # fmt: skip
    # 6. an output checked under the licence is recorded with its per-output amount
    _run("check", str(root / "model-output.jpg"), "--licensee", "GenCo", *r)
    _run("usage", "list", "--licensee", "GenCo", *r)
    # 7. statements for the period and for a pool, exact to the cent
    now = datetime.now(UTC)
    period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    _run("royalties", "--period", period, *r)
    _run("royalties", "--period", period, "--pool", "1000.00", "--currency", "EUR", *r)
    _run("royalties", "--period", period, "--owner", owner, "--html",
         "--out", str(root / "eve-statement.html"), *r)  # fmt: skip
    # 8. the owner opts out of training: impact lists the run, the licensee gets a notice
    with open_registry(Settings(registry=reg)) as store:
        first = store.list_works(owner=owner)[0].id
    _run("terms", "set", "--work", str(first), "--deny", "train-genai", *r)
    _run("impact", "--work", str(first), *r)
    _run("notices", "--licensee", "GenCo", *r)
    console.print(f"\nStatement for Eve: [bold]{root / 'eve-statement.html'}[/]")


def serve_demo(out: Path, *, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve the demo's registry (``out/clearance.db``) over HTTP until interrupted.

    Creates an owner key for Ann (printed once, as ``keys create`` prints it)
    and prints requests to paste, then runs ``clearance serve``, which prints
    its address first.
    """
    from clearance.registry import create_key

    reg = str(out / "clearance.db")
    if not (out / "clearance.db").is_file():
        raise SystemExit(f"no demo registry in {out}: run `python -m clearance.demo {out}` first")
    with open_registry(Settings(registry=reg)) as store:
        key = create_key(store, "Ann (illustrator, opts out)", "owner")[1]
    where = f"http://{host}:{port}"
    picture = out / "samples" / "ann" / "picture0.jpg"
    print(
        f"\nServing the demo registry. Ann's owner key (shown once): {key}\nTry, from another "
        f"shell:\n  curl -s {where}/readyz\n"
        f"  curl -s -F file=@{shlex.quote(str(picture))} {where}/v1/check\n"
        f"  curl -s --data-binary 'https://ann-illustrates.example/gallery/1.jpg' "
        f"{where}/v1/query/urls\n"
        f"  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f"""-d '{{"url": "https://ann-illustrates.example/new.jpg"}}' {where}/v1/works\n""",
        flush=True,
    )
    return cli(["serve", "--host", host, "--port", str(port), "--registry", reg])


def main(argv: list[str] | None = None) -> int:
    """``python -m clearance.demo [OUT] [--serve [--port N] [--reuse]]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m clearance.demo", description=__doc__)
    parser.add_argument("out", nargs="?", default="demo-output", help="the demo's directory")
    parser.add_argument("--serve", action="store_true", help="then serve it over HTTP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--reuse", action="store_true", help="with --serve: serve OUT as an earlier run left it"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not (args.serve and args.reuse):
        code = run_demo(out)
        if code or not args.serve:
            return code
    return serve_demo(out, host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
