"""Text written in photos (OCR), to read brand names that sellers leave out of titles.

Uses RapidOCR (PaddleOCR models run by ONNX Runtime, shipped inside the
`rapidocr-onnxruntime` wheel, so it works offline; Latin and Chinese). It costs
roughly 0.1-0.3 s per photo on one core, so `ImageMatcher` runs it only when
asked (`ocr=True`). Without the package, `read_text` returns "" and logs once.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_engine: Any = None
_engine_failed = False
_lock = threading.Lock()
MIN_CONFIDENCE = 0.6


def _get_engine() -> Any:
    global _engine, _engine_failed
    with _lock:
        if _engine is None and not _engine_failed:
            try:
                from rapidocr_onnxruntime import RapidOCR

                _engine = RapidOCR()
            except Exception as e:  # noqa: BLE001 - OCR is optional evidence
                _engine_failed = True
                log.warning("OCR unavailable (%s); text in photos is not read", e)
        return _engine


def read_text(image: np.ndarray | str | Path | bytes) -> str:
    """All text found in an image (RGB array, path or bytes), one line per text box."""
    engine = _get_engine()
    if engine is None:
        return ""
    if isinstance(image, np.ndarray):
        # RapidOCR expects OpenCV's BGR order for arrays.
        src: Any = np.ascontiguousarray(image[..., ::-1]) if image.ndim == 3 else image
    elif isinstance(image, Path):
        src = str(image)
    else:
        src = image
    try:
        result, _ = engine(src)
    except Exception as e:  # noqa: BLE001 - unreadable input yields no text
        log.warning("OCR failed on an image: %s", e)
        return ""
    lines = [str(box[1]) for box in (result or []) if float(box[2]) >= MIN_CONFIDENCE]
    return "\n".join(lines)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\W_]+", "", text)


def find_terms(text: str, terms: dict[str, list[str]]) -> list[tuple[str, str, str, float]]:
    """(mark_id, term, text seen, score) for each mark term written in `text`.

    Latin terms must appear as a whole word after folding case, width and
    separators (OCR reads `C H A N E L` or `Chanel.` alike); CJK terms as a
    substring. Terms shorter than three characters are ignored: OCR noise
    would match them by chance.
    """
    if not text.strip():
        return []
    found: list[tuple[str, str, str, float]] = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for mark_id, mark_terms in terms.items():
        for term in mark_terms:
            key = _fold(term)
            if len(key) < 3:
                continue
            cjk = any(unicodedata.name(c, "").startswith("CJK") for c in key)
            for line in lines:
                folded = _fold(line)
                if cjk:
                    hit = key in folded
                else:
                    words = [
                        _fold(w)
                        for w in re.split(r"[\s/|,;:]+", unicodedata.normalize("NFKC", line))
                    ]
                    hit = key in words or folded == key
                if hit:
                    found.append((mark_id, term, line.strip()[:60], 0.85))
                    break
            else:
                continue
            break  # one term per mark is enough evidence
    return found
