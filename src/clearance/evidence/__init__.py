"""Evidence a third party can check: Merkle roots over a scan's decisions, signatures, proofs.

A scan's ``manifest.json`` lists SHA-256 digests of its files, which catches
accidents but proves nothing to anyone else: whoever can edit the decisions
can edit the manifest. This package turns it into evidence:

* ``tree``: a Merkle tree (RFC 6962) over the decision rows, one root per
  shard and a run root, from a canonical row encoding (``encoding``);
* ``attest``: a root statement committing to the root and to every manifest
  field, signed with Ed25519 (``keys``);
* ``verify``: recompute everything from the files, streaming, and name each
  changed, dropped, added or reordered row, changed or missing file, edited
  manifest field and bad signature;
* ``proofs``: one row with its Merkle path and the signed root, checkable by
  a rights holder without the dataset.

Layer 3: it reads the scan's files but imports nothing from the scan, so the
scan (layer 4) can call it and a verifier needs nothing else. Formats are in
docs/formats.md; what the evidence does and does not establish is in
docs/compliance.md.
"""

from clearance.evidence.attest import attest
from clearance.evidence.errors import MalformedEvidence, VerificationFailed
from clearance.evidence.keys import generate_keypair, load_public_key, load_signing_key
from clearance.evidence.proofs import ProofCheck, prove, verify_proof
from clearance.evidence.tree import merkle_section
from clearance.evidence.verify import Finding, VerifyReport, verify_run

__all__ = [
    "Finding",
    "MalformedEvidence",
    "ProofCheck",
    "VerificationFailed",
    "VerifyReport",
    "attest",
    "generate_keypair",
    "load_public_key",
    "load_signing_key",
    "merkle_section",
    "prove",
    "verify_proof",
    "verify_run",
]
