"""File formats: your own arrays (.npy / .npz), the IDX format, and MNIST's files.

    load_array(path)      samples (N, ...) from a .npy or .npz file, strictly checked
    load_xy(path)         samples and, from a .npz holding a y array, their class labels
    read_idx(path)        one IDX file (gzipped or not), strictly checked
    load_mnist(folder)    MNIST's images and labels from the original IDX files
    download_mnist(dir)   fetches those files, checked against their published MD5 sums

Nothing here reaches the network except ``download_mnist``, which runs only when called, and
nothing unpickles: a data file cannot run code.  A .npy header is checked against the size
of its file (or zip member) before any data is read, so a damaged or hostile file fails in
one line naming it, never with NumPy's or zlib's own error.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..fileio import NPY_MAGIC, DamagedFile, read_npy, reading
from .pixels import check_pixel_range, scale_pixels
from .sources import as_rows, check_labels

# -- your own data: .npy / .npz ----------------------------------------------------------------

ARRAY_KEYS = ("x", "data", "arr_0")  # the names tried in a .npz for the samples, in this order
LABEL_KEY = "y"  # the name of the labels in a .npz, unless label_key says otherwise
_ZIP_MAGIC = b"PK"
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _file_kind(path: Path) -> str:
    """The file's kind, npy or npz, from its first bytes; any other file is an error naming it."""
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "no such file"
        if path.exists() and not path.is_dir():  # a pipe or a device: it might never end
            what = "is not a regular file"
        raise FileNotFoundError(f"{path}: {what}")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{path}: expected a .npy or .npz file, got {path.suffix or 'no suffix'}")
    try:
        with open(path, "rb") as f:
            head = f.read(len(NPY_MAGIC))
    except OSError as err:  # permissions, mostly: the same error, in a line that names the file
        raise type(err)(f"{path}: cannot be read ({err.strerror or err})") from None
    if not head:
        raise DamagedFile(f"{path}: an empty file (0 bytes): nothing was saved in it")
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(_ZIP_MAGIC):
        return "npz"
    raise DamagedFile(
        f"{path}: not a .npy or .npz file (it does not start with NumPy's or zip's magic "
        f"bytes): corrupt, or saved by something other than np.save / np.savez"
    )


def _npz_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """One array of an open .npz, checked against the size the zip's directory gives it."""
    if info.flag_bits & 0x1:
        raise DamagedFile(f"{where}: encrypted (password-protected): not saved by np.savez")
    if info.compress_type not in _ZIP_METHODS:
        raise DamagedFile(
            f"{where}: compressed with zip method {info.compress_type}, which Python cannot "
            f"read: save it again with np.savez or np.savez_compressed"
        )
    with reading(where), zf.open(info) as fp:
        x = read_npy(fp, where, info.file_size)
        if fp.read(1):  # reading on to the end is also what makes zipfile check the CRC
            raise DamagedFile(f"{where}: longer than the zip's directory says: corrupt")
    return x


def _choose(
    path: Path, names: Sequence[str], key: str | None, label_key: str | None
) -> tuple[str, str | None]:
    """The names of the samples and of the labels (or None) among the arrays of a .npz."""
    if not names:
        raise ValueError(f"{path}: an .npz file with no arrays in it")
    if key is not None and key not in names:
        raise ValueError(f"{path}: no array named {key!r}; it holds {', '.join(names)}")
    if label_key is not None and label_key not in names:
        raise ValueError(f"{path}: no label array named {label_key!r}; it holds {', '.join(names)}")
    if label_key is not None and label_key == key:
        raise ValueError(f"{path}: {key!r} cannot be both the samples and their labels")
    y_key = label_key
    if y_key is None and LABEL_KEY in names and key != LABEL_KEY:
        y_key = LABEL_KEY
    if key is not None:
        return key, y_key
    candidates = [name for name in names if name != y_key]
    if not candidates:
        raise ValueError(
            f"{path}: holds the labels {y_key!r} but no samples: save both, as "
            f"np.savez(path, x=x, y=y)"
        )
    named = [name for name in ARRAY_KEYS if name in candidates]
    if named or len(candidates) == 1:
        return (named or candidates)[0], y_key
    # Guessing could train on the wrong array without a word: ask instead.
    raise ValueError(
        f"{path}: holds the arrays {', '.join(candidates)} and none is named x, so which are "
        f"the samples? Save them as np.savez(path, x=samples) (labels, if any, as y=...), or "
        f"in Python pass numgan.data.load_array(path, key=...)"
    )


def _load(
    path: str | os.PathLike, key: str | None, label_key: str | None, labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """What load_array (labels=False) and load_xy (labels=True) return."""
    path = Path(path)
    if _file_kind(path) == "npy":
        if labels and label_key is not None:
            raise ValueError(
                f"{path}: a .npy file holds one array, so no labels {label_key!r}: save the "
                f"samples and labels together with np.savez(path, x=x, y=y)"
            )
        with open(path, "rb") as f:
            x = read_npy(f, str(path), path.stat().st_size)
        return _check_samples(x, str(path)), None
    with reading(str(path)):
        zf = zipfile.ZipFile(path)
    with zf:
        members = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
        if not members and zf.namelist():
            raise DamagedFile(
                f"{path}: a zip file holding {', '.join(zf.namelist()[:5])}, but no .npy "
                f"arrays: not saved by np.savez"
            )
        x_key, y_key = _choose(path, list(members), key, label_key if labels else None)
        x = _npz_member(zf, members[x_key], f"{path}[{x_key}]")
        y = _npz_member(zf, members[y_key], f"{path}[{y_key}]") if labels and y_key else None
    x = _check_samples(x, f"{path}[{x_key}]")
    if y is not None:
        y = check_labels(y, len(x), name=f"{path}[{y_key}]")
    return x, y


def _check_samples(x: np.ndarray, name: str) -> np.ndarray:
    """x must be an array (N, ...) of N >= 2 samples of finite numbers, each with a feature."""
    if x.dtype.kind == "O":
        raise ValueError(f"{name}: holds Python objects (dtype object), not an array of numbers")
    if x.dtype.kind not in "fiub":
        raise ValueError(
            f"{name}: dtype {x.dtype}, expected numbers (float, int, uint or bool); "
            f"convert with x.astype(np.float32) before saving"
        )
    if x.ndim == 0:
        raise ValueError(
            f"{name}: a single number (shape ()), not an array of samples of shape (N, ...)"
        )
    if len(x) < 2:
        raise ValueError(
            f"{name}: {len(x)} sample(s) along the first axis (shape {x.shape}); "
            f"need at least two, as an array of shape (N, ...)"
        )
    if math.prod(x.shape[1:]) == 0:
        raise ValueError(
            f"{name}: zero features per sample (shape {x.shape}): each sample needs at least "
            f"one value; save an array of shape (N, features) or (N, H, W)"
        )
    if x.dtype.kind == "f":
        bad = ~np.isfinite(as_rows(x))
        if bad.any():
            rows = np.flatnonzero(bad.any(1))
            raise ValueError(
                f"{name}: {int(bad.sum())} NaN or inf values in {len(rows)} samples (the first "
                f"is sample {rows[0]}): clean or drop those samples"
            )
    # numgan trains in float32: wider floats must fit it, or they become inf mid-run.
    if x.dtype.kind == "f" and x.dtype.itemsize > 4:
        low, high = x.min(), x.max()  # in x's dtype: a long double may be beyond float64 too
        if max(-low, high) > _FLOAT32_MAX:
            shown = [np.format_float_scientific(v, precision=3, trim="-") for v in (low, high)]
            raise ValueError(
                f"{name}: values from {shown[0]} to {shown[1]}, beyond float32's range "
                f"(+-{_FLOAT32_MAX:.4g}) that numgan trains in: rescale the data (say, divide "
                f"by np.abs(x).max()) before saving"
            )
    return x


def load_array(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """An array of samples (N, ...) from a .npy or .npz file, validated, dtype as saved.

    .npz: the array named ``key``, else the first of x, data, arr_0 present, else the only
    array that is not the labels "y"; with several and none of those names, ValueError lists
    them.  Raises FileNotFoundError if the file is missing and ValueError, naming the file and
    the problem, if it is empty, corrupt or truncated, not numeric, holds NaN/inf, values
    beyond float32's range, fewer than two samples or none of their features.  Never unpickles:
    an array of Python objects is refused from its header, so a data file cannot run code.
    """
    return _load(path, key, None, labels=False)[0]


def load_xy(
    path: str | os.PathLike, *, key: str | None = None, label_key: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Samples (N, ...) and their class labels (N,) int64, or None, from a .npy or .npz file.

    Save labelled data as ``np.savez(path, x=x, y=y)``.  In a .npz the labels are the array
    named ``label_key`` (which must then be there), else the array "y" if there is one; the
    samples are chosen as by load_array among the other arrays.  A .npy file holds one array:
    samples without labels.  The samples are checked as by load_array; the labels must be one
    integer class >= 0 per sample.  Every error is one line naming the file and the fix.
    """
    return _load(path, key, label_key, labels=True)


# -- MNIST: the IDX files ----------------------------------------------------------------------

IDX_TYPES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short, int16",
    0x0C: "int, int32",
    0x0D: "float, float32",
    0x0E: "double, float64",
}
_IDX_KINDS = {1: "an IDX label file", 3: "an IDX image file"}


def _read_maybe_gzipped(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if path.suffix != ".gz":
            return path.read_bytes()
        with gzip.open(path, "rb") as f:
            return f.read()
    except MemoryError:  # a gzip stream can inflate a thousandfold
        raise ValueError(f"{path}: too large to load into this machine's memory") from None
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        if path.suffix != ".gz":
            raise
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from err


def read_idx(
    path: str | os.PathLike, *, ndim: int | None = None, item_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """One IDX file (gzipped if its name ends in .gz), strictly checked -> uint8 array (dims).

    The format (big-endian):  magic = 0x00 0x00 <type code> <ndim>,  then ndim uint32 sizes,
    then prod(sizes) values.  Only type code 0x08 (unsigned byte) is accepted: MNIST's.
    ndim:        the number of dimensions expected (3 for images, 1 for labels), so the magic
                 number must be 0x00000803 or 0x00000801
    item_shape:  the sizes after the first, e.g. (28, 28) for MNIST images
    The file's length must be exactly header + prod(sizes).  Every error names the file.
    """
    path = Path(path)
    raw = _read_maybe_gzipped(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated: {len(raw)} bytes, not even a 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    zeros, type_code, nd = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    problems = []
    if zeros != 0:
        hint = " (it starts like a gzip stream: name it .gz)" if raw[:2] == b"\x1f\x8b" else ""
        problems.append(f"the first two bytes must be zero: not an IDX file{hint}")
    else:
        if type_code != 0x08:
            kind = IDX_TYPES.get(type_code, "not a valid IDX type")
            problems.append(
                f"type code 0x{type_code:02X} ({kind}), only 0x08 (unsigned byte) is supported"
            )
        if ndim is not None and nd != ndim:
            kind = f" (this looks like {_IDX_KINDS[nd]})" if nd in _IDX_KINDS else ""
            plural = "" if nd == 1 else "s"
            problems.append(f"{nd} dimension{plural}, expected {ndim}{kind}")
    if problems:
        expected = f", expected 0x{0x0800 | ndim:08X}" if ndim is not None else ""
        kind = f" ({_IDX_KINDS.get(ndim, f'an IDX file of {ndim} dimensions')})" if expected else ""
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}{expected}{kind}: {'; '.join(problems)}"
        )
    header = 4 + 4 * nd
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated: the header of {nd} dimensions needs {header} bytes, got {len(raw)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=nd, offset=4))
    if item_shape is not None and dims[1:] != tuple(item_shape):
        shown = " x ".join(str(d) for d in dims)
        want = " x ".join(["N", *(str(d) for d in item_shape)])
        raise ValueError(f"{path}: dimensions {shown}, expected {want}")
    size = header + int(np.prod(dims, dtype=object))  # Python ints: a corrupt size can't overflow
    if len(raw) != size:
        layout = f"a {header}-byte header + {' x '.join(str(d) for d in dims)} bytes"
        layout += ", decompressed" if path.suffix == ".gz" else ""
        if len(raw) < size:
            raise ValueError(f"{path}: truncated: expected {size} bytes, got {len(raw)} ({layout})")
        raise ValueError(
            f"{path}: expected {size} bytes, got {len(raw)}: {len(raw) - size} bytes of trailing "
            f"data ({layout})"
        )
    # Copied so that the array is writable and does not pin the whole file's bytes.
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {  # the published checksums of the gzipped files
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaceecde7f28bcbbc8a3da",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# A mirror of http://yann.lecun.com/exdb/mnist/ (which now often refuses downloads); any
# mirror of the original files works, the checksums decide.
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
DATA_ENV = "NUMGAN_DATA"

_MNIST_NAMES = ", ".join(f"{n}[.gz]" for pair in MNIST_FILES.values() for n in pair)


def _mnist_missing(message: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"MNIST: {message}. Expected a folder holding the IDX files {_MNIST_NAMES} (the "
        f"training split, the test split or both): pass it as data_dir=, or set {DATA_ENV} "
        f"(the CLI: --data-dir) to it; numgan.data.download_mnist(folder) fetches the files "
        f"if you are online"
    )


def _find_mnist(data_dir: str | os.PathLike | None) -> tuple[Path, dict[str, tuple[Path, Path]]]:
    """The folder holding the MNIST files and, per split found, its (images, labels) paths."""
    if data_dir is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise _mnist_missing(f"no folder given (data_dir=...) and {DATA_ENV} is not set")
        root, source = Path(env), f" (from {DATA_ENV})"
    else:
        root, source = Path(data_dir), ""
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(
            f"MNIST: {root}{source} is a file, not a folder: give the folder that holds the IDX "
            f"files ({_MNIST_NAMES}), here perhaps {root.parent}"
        )
    if not root.is_dir():
        raise _mnist_missing(f"the folder {root}{source} does not exist")

    def find(folder: Path, base: str) -> Path | None:
        # The uncompressed file first: it reads faster.
        return next((p for p in (folder / base, folder / f"{base}.gz") if p.is_file()), None)

    # NUMGAN_DATA may name the MNIST folder itself or a data folder with an mnist/ inside.
    searched = [root, root / "mnist"]
    for folder in searched:
        found = {}
        for split_name, (images, labels) in MNIST_FILES.items():
            pair = find(folder, images), find(folder, labels)
            if pair == (None, None):
                continue
            if None in pair:
                have, lacking = (pair[0], labels) if pair[1] is None else (pair[1], images)
                raise _mnist_missing(f"found {have.name} but not {lacking}[.gz] in {folder}")
            found[split_name] = pair
        if found:
            return folder, found
    raise _mnist_missing(
        f"no MNIST files in {' or '.join(str(f) for f in searched if f.is_dir())}{source}"
    )


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    which: str | None = None,
    scale: str | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """MNIST from the original IDX files: {split: (images (N, 28, 28), labels (N,) uint8)}.

    data_dir:  the folder with the files (or a folder with an mnist/ inside); default: the
               environment variable NUMGAN_DATA.  Nothing is downloaded: see download_mnist.
    which:     "train" or "test" to require that split; None loads whichever are there, so the
               keys of the result say which split a folder held (the test set alone: {"test"}).
    scale:     None keeps the uint8 pixels 0..255; "sigmoid" / "tanh" (a PIXEL_RANGES name)
               gives float32 in [0, 1] / [-1, 1] (see scale_pixels)
    """
    return _load_mnist(data_dir, which, scale)[1]


def _load_mnist(
    data_dir: str | os.PathLike | None, which: str | None, scale: str | None
) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """load_mnist, and the folder the files came from."""
    if which is not None and which not in MNIST_FILES:
        raise ValueError(f"load_mnist: which must be train, test or None, got {which!r}")
    check_pixel_range(scale, "load_mnist", allow_none=True)
    folder, found = _find_mnist(data_dir)
    if which is not None:
        if which not in found:
            raise _mnist_missing(
                f"the {which} split ({', '.join(MNIST_FILES[which])}) is not in {folder}, "
                f"only the {', '.join(found)} split"
            )
        found = {which: found[which]}
    out = {}
    for split_name, (images_path, labels_path) in found.items():
        images = read_idx(images_path, ndim=3, item_shape=(28, 28))
        labels = read_idx(labels_path, ndim=1)
        if len(images) != len(labels):
            raise ValueError(
                f"MNIST {split_name}: {images_path.name} holds {len(images)} images but "
                f"{labels_path.name} holds {len(labels)} labels"
            )
        if len(images) == 0:
            raise ValueError(f"MNIST {split_name}: {images_path} holds no images")
        if labels.max() > 9:
            raise ValueError(f"{labels_path}: labels must be 0..9, found {int(labels.max())}")
        out[split_name] = (images if scale is None else scale_pixels(images, scale), labels)
    return folder, out


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_mnist(
    cache_dir: str | os.PathLike,
    *,
    base_url: str = MNIST_URL,
    which: Sequence[str] = ("train", "test"),
    timeout: float = 30.0,
) -> Path:
    """Fetch the gzipped MNIST files into cache_dir, checking each against its published MD5.

    Runs only when called (no loader calls it).  Files already there with the right MD5 are
    kept.  A failed fetch raises ConnectionError with one line saying where to put the files by
    hand; a checksum mismatch deletes the download and raises ValueError.  Returns cache_dir.
    """
    import urllib.error  # here, not at the top: importing numgan must not load the HTTP stack
    import urllib.request

    unknown = [w for w in which if w not in MNIST_FILES]
    if unknown:
        raise ValueError(f"download_mnist: which must name train and/or test, got {unknown}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    names = [f"{base}.gz" for split_name in which for base in MNIST_FILES[split_name]]
    for name in names:
        target, expected = cache / name, MNIST_MD5[name]
        if target.is_file() and _md5(target) == expected:
            continue
        url = base_url.rstrip("/") + "/" + name
        partial = cache / f"{name}.part"  # renamed only once verified: no half file is ever used
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                with open(partial, "wb") as f:
                    shutil.copyfileobj(response, f)
        except (urllib.error.URLError, OSError, ValueError) as err:
            partial.unlink(missing_ok=True)
            reason = getattr(err, "reason", err)
            raise ConnectionError(
                f"download_mnist: could not fetch {url} ({reason}); without a network, copy "
                f"{', '.join(names)} into {cache} (or any folder, then set {DATA_ENV} or "
                f"--data-dir to it)"
            ) from None
        got = _md5(partial)
        if got != expected:
            partial.unlink()
            raise ValueError(
                f"download_mnist: {url} has MD5 {got}, expected {expected} (the published "
                f"checksum): deleted it; try another base_url"
            )
        partial.replace(target)
    return cache
