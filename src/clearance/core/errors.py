"""The one error tree of Clearance.

Every failure a user can see is a ``ClearanceError``. Each class carries the CLI
exit code and the HTTP status it maps to, so the faces (CLI, API) translate
errors in one place instead of guessing::

    ClearanceError                      exit 1, HTTP 500
    ├── UserError                       exit 2, HTTP 400   (the caller can fix it)
    │   ├── InvalidUsage                                   unknown usage name
    │   ├── InvalidTerms                                   inconsistent terms / prices
    │   ├── InputNotFound               HTTP 404           a named file does not exist
    │   ├── UnsupportedInput            HTTP 415           not a file we can fingerprint
    │   ├── UnsafePath                                     a name from data leads outside its tree
    │   ├── ImageTooLarge               HTTP 413           decompression-bomb guard
    │   ├── NotFound                    HTTP 404           unknown work / party id
    │   ├── ConflictError               HTTP 409           state forbids the change
    │   ├── Unauthorized                HTTP 401           no API key, or an unknown one
    │   ├── Forbidden                   HTTP 403           the key's party may not do this
    │   ├── RateLimited                 HTTP 429           the key sent too many requests
    │   ├── RegistryNotInitialised      HTTP 409           run `clearance init` first
    │   ├── RegistryVersionError        HTTP 409           store written by a newer version
    │   └── AddressBlocked              HTTP 403           SSRF guard refused an address
    ├── ExternalError                   exit 3, HTTP 503   (something outside us failed)
    │   ├── RegistryUnavailable                            database unreachable
    │   └── FetchError                  HTTP 502           a remote server failed us
    ├── LedgerTampered                  exit 4, HTTP 409   a ledger fails its hash chain
    └── InternalError                   exit 1, HTTP 500   (a bug: please report)
"""

from __future__ import annotations


class ClearanceError(Exception):
    """Root of every error Clearance raises on purpose."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UserError(ClearanceError):
    """The input or the request is wrong; the caller can fix it."""

    exit_code = 2
    http_status = 400


class InvalidUsage(UserError):
    """A usage name outside the vocabulary."""


class InvalidTerms(UserError):
    """Terms that contradict themselves or lack a price."""


class InputNotFound(UserError):
    """A file or directory named by the caller does not exist."""

    http_status = 404


class UnsupportedInput(UserError):
    """Bytes that are not a format we can fingerprint (or are corrupt)."""

    http_status = 415


class UnsafePath(UserError):
    """A file name from data (a tar member, a state.json entry, a ``path`` row) that is
    absolute, holds ``..`` or leads outside its directory through a symbolic link."""


class ImageTooLarge(UserError):
    """An image over the pixel limit: refused before decoding (decompression bomb)."""

    http_status = 413


class NotFound(UserError):
    """An id that names nothing in the registry."""

    http_status = 404


class ConflictError(UserError):
    """The registry's state forbids the change."""

    http_status = 409


class Unauthorized(UserError):
    """A write without an API key, or with a key that is unknown or revoked."""

    http_status = 401


class Forbidden(UserError):
    """The API key is valid, but its party may not do this (another owner's work)."""

    http_status = 403


class RateLimited(UserError):
    """The API key sent more requests than its rate allows; retry after a pause."""

    http_status = 429
    retry_after: int = 1
    """Seconds to wait before the next request (the HTTP ``Retry-After``)."""


class RegistryNotInitialised(UserError):
    """The registry has no schema yet."""

    http_status = 409


class RegistryVersionError(UserError):
    """The registry was written by a newer Clearance, or has an unknown format."""

    http_status = 409


class AddressBlocked(UserError):
    """The SSRF guard refused to connect: a private, loopback, link-local or reserved address."""

    http_status = 403


class ExternalError(ClearanceError):
    """Something outside Clearance failed (database, network)."""

    exit_code = 3
    http_status = 503


class RegistryUnavailable(ExternalError):
    """The registry database cannot be reached."""


class FetchError(ExternalError):
    """A remote server could not be reached or answered unusably."""

    http_status = 502


class LedgerTampered(ClearanceError):
    """The audit log or the usage ledger fails its hash chain: history was rewritten.

    Its own exit code (4), so a scheduled ``clearance audit verify`` can tell a
    broken ledger from a bad flag (2) or an unreachable database (3).
    """

    exit_code = 4
    http_status = 409


class InternalError(ClearanceError):
    """A bug in Clearance."""
