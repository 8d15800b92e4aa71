"""Model formats recognized by their content: which file is a Keras archive, a SavedModel, a TFLite
flatbuffer, a torch.export program (anything else is left to the ONNX loader).

=====================  ============================================  =====================  =========
format                 recognized by                                 converted with         extra
=====================  ============================================  =====================  =========
ONNX                   anything else (the ONNX loader decides)       (read as it is)        (none)
Keras 3 ``.keras``     a zip with ``config.json`` and                ``keras.saving.load_   ``keras``
                       ``metadata.json``/``model.weights.h5``        model``, then the
                                                                     Keras front end
Keras ``.h5``          the HDF5 signature                            the same               ``keras``
TF SavedModel          a directory with ``saved_model.pb``           tf2onnx (the serving   ``keras``
                       (or that file itself)                         signature)
TFLite ``.tflite``     the flatbuffer identifier ``TFL3``            tf2onnx's TFLite path  ``keras``
torch.export ``.pt2``  a zip with ``archive_format`` = ``pt2``       ``torch.export.load``, ``torch``
                                                                     then the dynamo
                                                                     exporter
=====================  ============================================  =====================  =========

The extension plays no part in recognizing a file (a ``.bin`` holding a ``.keras`` archive is a Keras
model); it only selects the candidates of a directory scan (:func:`model_files`). The standard
library only: ``graphcheck check model.onnx`` pays nothing for this module.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

__all__ = ["Format", "FORMATS", "KERAS", "H5", "SAVEDMODEL", "TFLITE", "PT2", "MODEL_SUFFIXES", "detect", "model_files"]


@dataclass(frozen=True)
class Format:
    """A model format converted to ONNX before the analysis."""

    key: str  # "keras", "h5", "savedmodel", "tflite", "pt2"
    what: str  # "Keras 3 model": how the one-line errors name it
    extra: str  # graphcheck's extra that installs the converter ("keras", "torch")
    modules: tuple[str, ...]  # what the conversion imports
    family: str  # "tf" or "torch": the formats one worker process converts
    dists: tuple[str, ...]  # the distributions whose versions key the cache


_TF_DISTS = ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx")
KERAS = Format("keras", "Keras 3 model", "keras", ("tensorflow", "keras", "tf2onnx"), "tf", _TF_DISTS)
H5 = Format("h5", "Keras .h5 model", "keras", ("tensorflow", "keras", "tf2onnx", "h5py"), "tf", _TF_DISTS)
SAVEDMODEL = Format("savedmodel", "TensorFlow SavedModel", "keras", ("tensorflow", "tf2onnx"), "tf", _TF_DISTS)
TFLITE = Format("tflite", "TensorFlow Lite model", "keras", ("tensorflow", "tf2onnx"), "tf", _TF_DISTS)
PT2 = Format("pt2", "torch.export program", "torch", ("torch", "onnxscript"), "torch", ("torch", "onnxscript", "onnx"))
FORMATS = {f.key: f for f in (KERAS, H5, SAVEDMODEL, TFLITE, PT2)}

# a directory scan's candidates (each then recognized by its content); SavedModel directories too
MODEL_SUFFIXES = (".onnx", ".keras", ".h5", ".hdf5", ".tflite", ".pt2")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = b"PK\x03\x04"


# --------------------------------------------------------------------------- recognizing a file


def _is_saved_model_dir(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, name)) for name in _SAVED_MODEL_FILES)


def _zip_format(path: str) -> Format | None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            top = {n for n in names if "/" not in n}
            if "config.json" in top and ({"metadata.json", "model.weights.h5"} & top):
                return KERAS
            # torch.export.save: <archive name>/archive_format holding "pt2"
            marker = next((n for n in names if n.rsplit("/", 1)[-1] == "archive_format"), None)
            if marker is not None and z.getinfo(marker).file_size <= 64:
                if z.read(marker).strip() == b"pt2":
                    return PT2
    except Exception:  # a damaged zip: not one of these (the ONNX loader gives today's error)
        return None
    return None


def detect(path: str | os.PathLike[str]) -> tuple[Format, str] | None:
    """The format of a model file or directory and the path to convert, by content; ``None`` for
    ONNX and for anything not recognized (the ONNX loader reads it, or says in one line why not)."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return (SAVEDMODEL, p) if _is_saved_model_dir(p) else None
    if not stat.S_ISREG(st.st_mode):
        return None
    if os.path.basename(p) in _SAVED_MODEL_FILES:  # the SavedModel's own graph file: its directory
        return SAVEDMODEL, os.path.dirname(os.path.abspath(p))
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(_HDF5):
        return H5, p
    if len(head) == 8 and head[4:8] == b"TFL3":  # a flatbuffer's file identifier, after the root offset
        return TFLITE, p
    if head.startswith(_ZIP):
        fmt = _zip_format(p)
        return (fmt, p) if fmt is not None else None
    return None


def model_files(directory: str | os.PathLike[str]) -> list[str]:
    """A directory scan's models, sorted: files with a model suffix and SavedModel directories (not
    descended into), below ``directory``."""
    out: list[str] = []
    root = os.fspath(directory)
    if _is_saved_model_dir(root):
        return [root]
    for dirpath, dirnames, filenames in os.walk(root):
        keep = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if _is_saved_model_dir(full):
                out.append(full)
            else:
                keep.append(d)
        dirnames[:] = keep
        out.extend(os.path.join(dirpath, f) for f in filenames if f.lower().endswith(MODEL_SUFFIXES))
    return sorted(out)
