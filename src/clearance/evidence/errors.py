"""The two ways evidence can fail: it cannot be read, or it does not match.

They are different answers and get different exit codes. A manifest, key,
proof or signature that is not well formed is the caller's to fix
(``MalformedEvidence``, a ``UserError``: exit 2). Evidence that is well formed
but does not match what it claims to describe is the *result* a verifier
exists to report (``VerificationFailed``: exit 4), so a script can tell
"tampered" from "wrong file" and from a crash (exit 1).
"""

from __future__ import annotations

from clearance.core.errors import ClearanceError, UserError


class MalformedEvidence(UserError):
    """A manifest, key, proof or signature that cannot be parsed or has the wrong shape."""

    http_status = 422


class VerificationFailed(ClearanceError):
    """Well-formed evidence that does not match: a changed row, file, field or signature."""

    exit_code = 4
    http_status = 422
