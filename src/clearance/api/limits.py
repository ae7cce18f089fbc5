"""What one HTTP client can make a server spend: body size and time, decodes, pixels, seconds.

Why a module: the guard decodes whatever it is handed, and decoding is where
a request's cost hides. A 78 KB PNG that declares 81 megapixels costs 400 MB
to decode, a 1.3 MB FLAC of two silent hours 308 MB, and eight of them at once
took a server to 3.3 GB. So, per server worker:

* ``RequestLimits`` (ASGI middleware) refuses a body over
  ``api_max_body_bytes`` (413, also when it arrives chunked, without a
  Content-Length) and one that takes longer than ``api_body_timeout`` to
  arrive (408);
* ``probe_upload`` reads an upload's header, before decoding, and refuses an
  image over ``api_max_pixels`` or audio/video over ``api_max_seconds`` (413);
* ``DecodeGate`` lets ``api_decode_slots`` decodes run at once and
  ``api_decode_queue`` wait; the next gets 503 at once;
* ``KeyRates`` lets each API key make ``api_key_rate`` requests a second on
  average, ``api_key_burst`` at once; the next gets 429 with ``Retry-After``.

Slow *headers* (slowloris) are cut by the server itself (``clearance.api.server``).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any

from clearance.core.errors import ImageTooLarge, RateLimited, UserError
from clearance.matching.media import media_kind

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(UserError):
    """The request body is over ``api_max_body_bytes``."""

    http_status = 413


class BodyTimeout(UserError):
    """The request body did not arrive within ``api_body_timeout``."""

    http_status = 408


class MediaTooLong(UserError):
    """Audio or video over ``api_max_seconds``: refused before decoding."""

    http_status = 413


class Busy(UserError):
    """Every decode slot is taken and the queue is full: try again shortly."""

    http_status = 503


async def error_response(send: Send, exc: UserError) -> None:
    """Answer with ``{"error", "type"}`` straight from ASGI (outside any route)."""
    body = json.dumps({"error": str(exc), "type": type(exc).__name__}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: a bounded body, delivered within a deadline.

    The bound is enforced on the bytes actually received, so a chunked body
    (no Content-Length) over the limit is a 413 too, not a parser's 400, and
    no more than the limit is ever buffered. Errors raised while the route
    reads the body reach the app's own error handler as ``UserError``.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, body_timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await error_response(
                send,
                BodyTooLarge(f"request is {declared} bytes, over the limit of {self.max_body}"),
            )
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        received = 0
        complete = False

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # after the body: e.g. waiting for a disconnect; no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):  # no task per read, unlike wait_for
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(
                    f"the request body did not arrive within {self.body_timeout:g} s"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(f"request body is over the limit of {self.max_body} bytes")
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def probe_upload(data: bytes, label: str, *, max_pixels: int, max_seconds: float) -> None:
    """Refuse an upload whose header promises too much work; decode nothing.

    Bytes that cannot be probed pass: the guard then refuses them (415) itself.
    Every upload is probed as an image, whatever its name: a PNG named
    ``clip.mp4`` would otherwise be decoded, whole, as a video frame.
    """
    _probe_image(data, max_pixels)
    if media_kind(label) != "image":
        _probe_media(data, max_seconds, max_pixels)


def _probe_image(data: bytes, max_pixels: int) -> None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge(f"image is over the limit of {max_pixels} pixels") from None
    except Exception:  # not an image Pillow knows: the guard says so (415)
        return
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} ({width * height} pixels), "
            f"over the per-request limit of {max_pixels}"
        )


def _probe_media(data: bytes, max_seconds: float, max_pixels: int) -> None:
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            seconds = _duration(container)
            frame = max(
                (s.codec_context.width * s.codec_context.height for s in container.streams.video),
                default=0,
            )
    except Exception:  # not media FFmpeg reads: the guard says so (415)
        return
    if seconds is not None and seconds > max_seconds:
        raise MediaTooLong(
            f"media is {seconds:.0f} s long, over the per-request limit of {max_seconds:g} s"
        )
    if frame > max_pixels:
        raise ImageTooLarge(
            f"video frames are {frame} pixels, over the per-request limit of {max_pixels}"
        )


def _duration(container: Any) -> float | None:
    """The longest duration the container or any of its streams declares, in seconds."""
    found: list[float] = []
    if container.duration:
        found.append(container.duration / 1_000_000)
    for stream in container.streams:
        if stream.duration and stream.time_base:
            found.append(float(stream.duration * stream.time_base))
    return max(found) if found else None


class DecodeGate:
    """At most ``slots`` decodes at once and ``queue`` waiting, per worker; then ``Busy``.

    Per event loop, strictly (an asyncio semaphore belongs to one loop): a
    server worker runs one loop; tests that start a loop per client get a
    fresh gate with each.
    """

    def __init__(self, slots: int, queue: int) -> None:
        self.slots = slots
        self.queue = queue
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(slots)
        self._waiting = 0

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._semaphore, self._waiting = loop, asyncio.Semaphore(self.slots), 0
        if self._semaphore.locked() and self._waiting >= self.queue:
            raise Busy(
                f"all {self.slots} decode slots are busy and {self._waiting} requests wait",
                hint="retry shortly",
            )
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._semaphore.release()


class KeyRates:
    """A token bucket per API key (per server worker): ``rate`` a second, ``burst`` at once.

    Thread-safe; holds at most ``keys`` buckets (the oldest are forgotten, which
    only ever gives a key a fresh, full bucket).
    """

    def __init__(self, rate: float, burst: int, *, keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.keys = keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one request of ``key``'s bucket; raise ``RateLimited`` when it is empty."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, since = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - since) * self.rate)
            if len(self._buckets) >= self.keys:
                self._buckets.pop(next(iter(self._buckets)))
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                error = RateLimited(
                    f"this API key is over its rate of {self.rate:g} requests a second",
                    hint=f"retry in {wait} s",
                )
                error.retry_after = wait
                raise error
            self._buckets[key] = (tokens - 1.0, now)
