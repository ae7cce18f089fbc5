"""Image hashing: speed against a naive PDQ, and robustness of PDQ alone vs PDQ + regions.

(a) Throughput on ~1.5 MP JPEGs made from scikit-image's bundled photographs:
    the naive baseline (full PIL decode, RGB, ``pdqhash.compute``) and our
    ``image_hash`` run interleaved in the same process, repeated; we report
    per-image times, the ratio and the median bit distance between the two
    hashes, then ``image_hashes`` with 1 and 2 worker processes.
(b) Robustness: 10 photographs bundled in the scikit-image wheel are
    registered, along with thousands of generated distractors (random crops of
    *other* bundled images, faces, textures, gradients with shapes). Every
    photograph is transformed (JPEG q30, half size, blur, 5%/10% crop at a
    random offset, 20% uniform padding, 90-degree rotation, mirror, 4-degree
    rotation, a caption) ``--variants`` times, and each variant is matched
    against every registered image. Recall counts the variant's own original;
    a false match is any other registered image matched, over all
    query x reference pairs. Thresholds are *chosen* on one distractor set
    and *reported* on a second, independent one.

Needs the ``bench`` extra (faiss-cpu, scikit-image). No network: images are
read from files inside the scikit-image package, never fetched.

    python -m benchmarks.bench_image                # defaults, a few minutes
    python -m benchmarks.bench_image --variants 20 --distractors 4000
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from clearance.core.errors import ClearanceError
from clearance.fingerprint.image import MIN_QUALITY, ImageHash, image_hash
from clearance.fingerprint.parallel import image_hashes, map_sources
from clearance.fingerprint.regions import (
    PDQ_THRESHOLD,
    QUERY_SEARCHES,
    REGION_THRESHOLD,
    Kind,
    RegionHashes,
    image_fingerprints,
)

ORIGINALS = (
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "motorcycle_left.png",
    "ihc.png",
)
# Never motorcycle_right.png: it is the other half of a stereo pair, a true match.
DISTRACTOR_SOURCES = (
    "moon.png",
    "cell.png",
    "clock_motion.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "color.png",
    "horse.png",
    "logo.png",
    "page.png",
    "text.png",
    "phantom.png",
    "microaneurysms.png",
)
SEARCH_RADIUS = 48
"""Pairs further apart than this are never counted as matches at any threshold we consider."""


# --- data ----------------------------------------------------------------------------


def _data_dir() -> Path:
    try:
        import skimage.data
    except ImportError as exc:
        raise SystemExit(
            "bench_image needs scikit-image: pip install -e '.[bench]' (or scikit-image)"
        ) from exc
    return Path(skimage.data.data_dir)


def load_bundled(name: str) -> Image.Image:
    """A photograph shipped inside the scikit-image wheel, as RGB (alpha on white)."""
    path = _data_dir() / name
    if not path.exists():
        raise SystemExit(f"{name} is not bundled with this scikit-image; refusing to download it")
    with Image.open(path) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "P"):
            rgba = im.convert("RGBA")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
        return im.convert("RGB")


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _crop(im: Image.Image, fraction: float, rng: np.random.Generator) -> Image.Image:
    """Keep (1 - fraction) of each side, at a random offset."""
    w, h = im.size
    cw, ch = round(w * (1 - fraction)), round(h * (1 - fraction))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return im.crop((x, y, x + cw, y + ch))


def _pad(im: Image.Image, fraction: float, rng: np.random.Generator) -> Image.Image:
    """Grow each side by ``fraction`` with one colour, split at random between the two edges."""
    w, h = im.size
    pw, ph = round(w * fraction), round(h * fraction)
    colours = [(0, 0, 0), (255, 255, 255), (128, 128, 128), tuple(rng.integers(0, 256, 3))]
    colour = tuple(int(c) for c in colours[int(rng.integers(len(colours)))])
    out = Image.new("RGB", (w + pw, h + ph), colour)
    out.paste(im, (int(rng.integers(0, pw + 1)), int(rng.integers(0, ph + 1))))
    return out


def _caption(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """White text with a black outline, one tenth of the height tall, at a random place."""
    w, h = im.size
    size = max(10, h // 10)
    out = im.copy()
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=size)
    except (OSError, TypeError):  # pragma: no cover - Pillow built without FreeType
        font = ImageFont.load_default()
    x, y = int(rng.integers(0, max(1, w // 3))), int(rng.integers(0, max(1, h - size)))
    ImageDraw.Draw(out).text(
        (x, y), "© Clearance 2026", fill="white", font=font, stroke_width=max(1, size // 12),
        stroke_fill="black",
    )  # fmt: skip
    return out


Transform = Callable[[Image.Image, np.random.Generator], bytes]
TRANSFORMS: dict[str, Transform] = {
    "jpeg q30": lambda im, r: jpeg(im, 30),
    "resize 0.5": lambda im, r: jpeg(im.resize((im.width // 2, im.height // 2))),
    "blur": lambda im, r: jpeg(im.filter(ImageFilter.GaussianBlur(float(r.uniform(1.5, 2.5))))),
    "crop 5%": lambda im, r: jpeg(_crop(im, 0.05, r)),
    "crop 10%": lambda im, r: jpeg(_crop(im, 0.10, r)),
    "pad 20%": lambda im, r: jpeg(_pad(im, 0.20, r)),
    "rotate 90": lambda im, r: jpeg(
        im.transpose(Image.Transpose.ROTATE_90 if r.random() < 0.5 else Image.Transpose.ROTATE_270)
    ),
    "flip": lambda im, r: jpeg(ImageOps.mirror(im)),
    "rotate 4": lambda im, r: jpeg(
        im.rotate(4.0 if r.random() < 0.5 else -4.0, Image.Resampling.BILINEAR)
    ),
    "text overlay": lambda im, r: jpeg(_caption(im, r)),
}


def _size(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(200, 520)), int(rng.integers(200, 520))


def distractors(count: int, seed: int) -> list[bytes]:
    """Generated non-matching images: crops of other bundled images, faces, textures, shapes."""
    rng = np.random.default_rng(seed)
    sources = [load_bundled(n) for n in DISTRACTOR_SOURCES]
    faces = np.load(_data_dir() / "lfw_subset.npy")
    out = []
    for i in range(count):
        kind = i % 10
        if kind < 4:  # a random crop of another photograph, maybe mirrored
            src = sources[int(rng.integers(len(sources)))]
            w, h = src.size
            cw = max(32, int(w * rng.uniform(0.3, 1.0)))
            ch = max(32, int(h * rng.uniform(0.3, 1.0)))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            im = src.crop((x, y, x + cw, y + ch))
            if rng.random() < 0.5:
                im = ImageOps.mirror(im)
            im = im.resize(_size(rng))
        elif kind < 5:  # a face (25x25 in the wheel), enlarged
            face = faces[int(rng.integers(len(faces)))]
            side = int(rng.integers(150, 300))
            im = Image.fromarray((face * 255).astype(np.uint8)).convert("RGB")
            im = im.resize((side, side), Image.Resampling.BICUBIC)
        elif kind < 7:  # smooth colour noise at a random scale
            w, h = _size(rng)
            cells = int(rng.integers(3, 40))
            noise = rng.integers(0, 256, (cells, max(3, cells * w // h), 3), dtype=np.uint8)
            im = Image.fromarray(noise).resize((w, h), Image.Resampling.BICUBIC)
            im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 3))))
        else:  # waves with random shapes on top
            w, h = _size(rng)
            yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
            a = rng.uniform(-1, 1, 2)
            arr = np.empty((h, w, 3))
            for c in range(3):
                wave = np.sin((a[0] * xx + a[1] * yy) * rng.uniform(2, 30) + rng.uniform(0, 6))
                arr[..., c] = 128 + 100 * rng.uniform(0.2, 1) * wave
            im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(im)
            for _ in range(int(rng.integers(2, 12))):
                cx, cy, r = (
                    rng.integers(0, w),
                    rng.integers(0, h),
                    rng.integers(10, max(11, w // 3)),
                )
                box = (int(cx - r), int(cy - r), int(cx + r), int(cy + r))
                fill = tuple(int(c) for c in rng.integers(0, 256, 3))
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
        out.append(jpeg(im, int(rng.integers(70, 96))))
    return out


# --- (a) throughput ------------------------------------------------------------------


def naive_pdq(data: bytes) -> tuple[bytes, int]:
    """The baseline: full decode, RGB, ``pdqhash.compute``."""
    with Image.open(io.BytesIO(data)) as im:
        pixels = np.asarray(im.convert("RGB"))
    bits, quality = pdqhash.compute(pixels)
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def big_jpegs(megapixels: float = 1.5) -> list[bytes]:
    out = []
    for name in ORIGINALS:
        im = load_bundled(name)
        s = (megapixels * 1e6 / (im.width * im.height)) ** 0.5
        out.append(
            jpeg(im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS))
        )
    return out


def _bits(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def throughput(rounds: int, files: list[Path]) -> None:
    datas = [f.read_bytes() for f in files]
    ours_t: list[float] = []
    naive_t: list[float] = []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        for data in datas:
            t0 = time.perf_counter()
            naive_pdq(data)
            t1 = time.perf_counter()
            image_hash(data)
            t2 = time.perf_counter()
            naive_t.append(t1 - t0)
            ours_t.append(t2 - t1)
    dists = [_bits(naive_pdq(d)[0], image_hash(d).pdq) for d in datas]
    pixels = statistics.median(Image.open(f).width * Image.open(f).height for f in files)
    n, o = statistics.median(naive_t), statistics.median(ours_t)
    print(f"(a) {len(files)} JPEGs, median {pixels / 1e6:.2f} MP, {rounds} interleaved rounds")
    print(f"    naive decode+RGB+pdqhash.compute: {n * 1e3:7.2f} ms/image ({1 / n:6.1f}/s)")
    print(f"    image_hash (draft+reduce, 8 dihedral): {o * 1e3:7.2f} ms/image ({1 / o:6.1f}/s)")
    print(f"    speed-up: {n / o:.2f}x; bits from naive: median {statistics.median(dists)},")
    print(f"    max {max(dists)}, all {sorted(dists)}")
    batch = files * 24
    t0 = time.perf_counter()
    image_hashes(files[:2], workers=2)  # starts the fork server: a once-per-process cost
    cold = time.perf_counter() - t0
    wall: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(max(2, rounds // 2)):
        for workers in (1, 2):
            t0 = time.perf_counter()
            results = image_hashes(batch, workers=workers)
            wall[workers].append(time.perf_counter() - t0)
            assert not any(isinstance(r, ClearanceError) for r in results)
            # The same work again, timing the CPU each item costs wherever it runs.
            spent = map_sources(_cpu_seconds, batch, workers=workers)
            cpu[workers].append(sum(x for x in spent if isinstance(x, float)))
    w1, w2 = statistics.median(wall[1]), statistics.median(wall[2])
    c1, c2 = statistics.median(cpu[1]), statistics.median(cpu[2])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"    image_hashes on {len(batch)} files: workers=1 {len(batch) / w1:6.1f}/s,")
    print(
        f"    workers=2 {len(batch) / w2:6.1f}/s (x{w1 / w2:.2f} wall; each call starts its pool;"
    )
    print(f"    the first call in a process also starts the fork server: {cold:.2f} s)")
    print(f"    CPU per image: workers=1 {c1 / len(batch) * 1e3:.2f} ms,")
    print(f"    workers=2 {c2 / len(batch) * 1e3:.2f} ms (sum over workers; equal = no overhead)")
    print(f"    1-minute load average {load:.1f} on {os.cpu_count()} CPUs: other jobs share them")


def _cpu_seconds(source: str | Path | bytes | Image.Image) -> float:
    """CPU seconds ``image_hash`` takes on one source, in whichever process runs it."""
    t0 = time.process_time()
    image_hash(source)
    return time.process_time() - t0


# --- (b) robustness ------------------------------------------------------------------


Fingerprint = tuple[ImageHash, RegionHashes]


def fingerprints(datas: list[bytes], kind: Kind, workers: int) -> list[Fingerprint]:
    fn = functools.partial(image_fingerprints, kind=kind)
    out = map_sources(fn, list(datas), workers=workers)
    bad = [r for r in out if isinstance(r, ClearanceError)]
    if bad:
        raise SystemExit(f"{len(bad)} images failed to hash: {bad[0]}")
    return out  # type: ignore[return-value]


def _codes(hashes: list[bytes]) -> NDArray[np.uint8]:
    return np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(len(hashes), 32)


def _pair_min(
    q_codes: NDArray[np.uint8], q_owner: NDArray[np.int64], r_codes: NDArray[np.uint8],
    r_owner: NDArray[np.int64], n_q: int, n_r: int,
) -> NDArray[np.int32]:  # fmt: skip
    """Min distance over code pairs for every (query, reference) pair; > radius as radius+1."""
    import faiss

    index = faiss.IndexBinaryFlat(256)
    index.add(r_codes)
    best = np.full((n_q, n_r), SEARCH_RADIUS + 1, dtype=np.int32)
    step = 4096
    for start in range(0, len(q_codes), step):
        lims, dist, ids = index.range_search(q_codes[start : start + step], SEARCH_RADIUS + 1)
        rows = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims).astype(np.int64))
        np.minimum.at(best, (q_owner[rows], r_owner[ids.astype(np.int64)]), dist.astype(np.int32))
    return best


def _region_codes(
    fps: list[Fingerprint], region_class: str
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Every code of one region class, and which fingerprint it belongs to."""
    empty = np.zeros((0, 32), np.uint8)
    codes = [fp[1].by_class().get(region_class, empty) for fp in fps]
    owner = np.concatenate([np.full(len(c), i) for i, c in enumerate(codes)])
    return np.concatenate(codes), owner.astype(np.int64)


def pair_distances(
    queries: list[Fingerprint], refs: list[Fingerprint]
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Per (query, reference): global PDQ bits, best dihedral bits, best region-pair bits.

    A global hash of quality < 50 on either side is set to radius+1: it never matches.
    """
    nq, nr = len(queries), len(refs)
    r_pdq = _codes([r[0].pdq for r in refs])
    q_pdq = _codes([q[0].pdq for q in queries])
    q_dih = _codes([h for q in queries for h in q[0].dihedral])
    glob = _pair_min(q_pdq, np.arange(nq), r_pdq, np.arange(nr), nq, nr)
    dih = _pair_min(q_dih, np.repeat(np.arange(nq), 8), r_pdq, np.arange(nr), nq, nr)
    low = (
        np.array([q[0].quality < MIN_QUALITY for q in queries])[:, None]
        | np.array([r[0].quality < MIN_QUALITY for r in refs])[None, :]
    )
    glob[low] = SEARCH_RADIUS + 1
    dih[low] = SEARCH_RADIUS + 1
    # regions are compared class by class, as the matching core does (QUERY_SEARCHES)
    reg = np.full((nq, nr), SEARCH_RADIUS + 1, dtype=np.int32)
    for query_class, targets in QUERY_SEARCHES.items():
        qc, qo = _region_codes(queries, query_class)
        for target in targets:
            rc, ro = _region_codes(refs, target)
            if len(qc) and len(rc):
                reg = np.minimum(reg, _pair_min(qc, qo, rc, ro, nq, nr))
    return glob, dih, reg


def robustness(variants: int, n_distractors: int, workers: int, seed: int) -> None:
    t0 = time.perf_counter()
    originals = [load_bundled(n) for n in ORIGINALS]
    rng = np.random.default_rng(seed)
    query_rows: list[tuple[str, int, bytes]] = []
    for tname, transform in TRANSFORMS.items():
        for i, im in enumerate(originals):
            for _ in range(variants):
                query_rows.append((tname, i, transform(im, rng)))
    calib = distractors(n_distractors // 2, seed + 1)
    test = distractors(n_distractors - n_distractors // 2, seed + 2)
    t1 = time.perf_counter()
    reg_orig = fingerprints([jpeg(im, 95) for im in originals], "registered", workers)
    reg_calib = fingerprints(calib, "registered", workers)
    reg_test = fingerprints(test, "registered", workers)
    queries = fingerprints([q[2] for q in query_rows], "query", workers)
    t2 = time.perf_counter()
    owner = np.array([q[1] for q in query_rows])
    n_orig = len(originals)

    # Thresholds are chosen on the calibration distractors ...
    _, dih_c, reg_c = pair_distances(queries, reg_calib)
    pairs_c = reg_c.size
    print(f"(b) thresholds, measured on {len(calib)} calibration distractors x {len(queries)}")
    print(f"    queries = {pairs_c} pairs (false-match rate per pair):")
    print("    bits  regions      PDQ+dihedral")
    for t in range(16, SEARCH_RADIUS + 1, 4):
        print(f"    {t:4d}  {np.mean(reg_c <= t):.2e}     {np.mean(dih_c <= t):.2e}")
    # ... and reported on the others, plus every other original.
    refs = reg_orig + reg_test
    glob, dih, reg = pair_distances(queries, refs)
    t3 = time.perf_counter()
    own = np.zeros_like(glob, dtype=bool)
    own[np.arange(len(queries)), owner] = True
    ok_global = glob <= PDQ_THRESHOLD
    ok_full = (dih <= PDQ_THRESHOLD) | (reg <= REGION_THRESHOLD)
    print(f"(b) robustness: {n_orig} bundled photographs x {variants} variants per transform,")
    print(f"    against {n_orig} originals + {len(test)} test distractors")
    print(f"    (PDQ <= {PDQ_THRESHOLD} bits, regions <= {REGION_THRESHOLD} bits, quality >= 50)")
    header = f"    {'transform':14s} {'PDQ recall':>10s} {'PDQ FMR':>9s}"
    print(header + f" {'+dih+regions recall':>20s} {'FMR':>9s}  {'pairs':>7s}")
    names = [q[0] for q in query_rows]
    for tname in [*TRANSFORMS, "all"]:
        rows = np.array([tname in ("all", n) for n in names])
        o, f_g, f_f = own[rows], ok_global[rows], ok_full[rows]
        print(
            f"    {tname:14s} {f_g[o].mean():10.3f} {f_g[~o].mean():9.1e}"
            f" {f_f[o].mean():20.3f} {f_f[~o].mean():9.1e}  {int((~o).sum()):7d}"
        )
    print(
        f"    time: data {t1 - t0:.0f} s, hashing {t2 - t1:.0f} s"
        f" ({len(reg_calib) + len(reg_test) + n_orig} registered, {len(queries)} queries),"
        f" matching {t3 - t2:.0f} s"
    )
    print("    region threshold sweep (PDQ+dihedral <= 31 or regions <= T), test set:")
    for t in (20, 24, 28, 32, 36):
        ok = (dih <= PDQ_THRESHOLD) | (reg <= t)
        worst = min(
            (ok[np.array(names) == n][own[np.array(names) == n]].mean(), n) for n in TRANSFORMS
        )
        print(
            f"    T={t:2d}: recall {ok[own].mean():.3f} (worst {worst[1]} {worst[0]:.3f}),"
            f" FMR {ok[~own].mean():.1e}"
        )
    print(
        f"    closest non-matching pair: regions {int(reg[~own].min())} bits,"
        f" PDQ+dihedral {int(dih[~own].min())} bits ({SEARCH_RADIUS + 1} = none within"
        f" {SEARCH_RADIUS})"
    )
    sizes = [len(r[1]) for r in reg_orig]
    print(f"    registered regions kept per photograph: median {statistics.median(sizes)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_image", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="throughput repetitions")
    parser.add_argument("--variants", type=int, default=10, help="variants per transform/photo")
    parser.add_argument("--distractors", type=int, default=3000, help="generated distractors")
    parser.add_argument("--workers", type=int, default=2, help="processes for hashing in (b)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-robustness", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_throughput:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for i, data in enumerate(big_jpegs()):
                path = Path(tmp) / f"photo{i}.jpg"
                path.write_bytes(data)
                files.append(path)
            throughput(args.rounds, files)
    if not args.skip_robustness:
        robustness(args.variants, args.distractors, args.workers, args.seed)


if __name__ == "__main__":
    main()
