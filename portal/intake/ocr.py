"""OCR of one page image: Chinese (Simplified and Traditional) and English.

Engine ``rapidocr`` (PP-OCRv4 models through onnxruntime, shipped in the ``rapidocr-onnxruntime``
wheel: installs with pip alone) is always there and is the default; ``tesseract`` is offered when
the ``tesseract`` binary and its ``chi_sim`` data are installed. ``bench/bench_ocr.py`` measures
both (bench/README.md, "OCR benchmark").

How a page is read with rapidocr (one detection pass and one recognition pass, whatever the
page's orientation; about 5–6 CPU seconds for a full 300-dpi A4 page here):

0. **Grey from the red channel** (``_grey``): red seal ink (公章) turns almost paper-white, text
   under the seal stays dark, red print (a letterhead) still reads, fainter.
1. **Detect** text lines on a copy scaled to ``DET_LONG_SIDE`` pixels (long side): 1600 reads
   6-pt print on A4 as well as 2000 and costs 40 % less detection time and 200 MB less memory.
2. **Orientation 90/270.** Line boxes standing upright mean the page lies sideways: the page and
   the boxes (their coordinates: no second detection) are turned by 90°.
3. **Skew** is the length-weighted median angle of the long line boxes. Each line is cut out of
   the full-size page along its own tilted box, so it is straightened on the way; the reading
   order is taken in the deskewed frame. (No whole-page rotation is needed.)
4. **Orientation 0/180.** rapidocr's angle classifier looks at short pieces (about four
   characters, the shape it was trained on) of the longest lines; a majority upside down means
   the page is: the cut lines are turned and the boxes mirrored (again no second detection).
   rapidocr's own per-line use of that classifier is switched off: fed a whole line squeezed
   into 48×192 pixels it took 5 of 34 upright lines of a clean page for upside down (score
   > 0.9), turned them and lost them (accuracy 0.85 instead of 1.0).
5. **Recognise** every line cut from the full-size page (not the scaled copy: small print keeps
   its strokes), one line per model call (``REC_BATCH``), keep lines scored ≥
   ``MIN_LINE_SCORE``, and order them top-to-bottom, left-to-right.

One engine per process, created lazily; calls are serialised with a lock (``_engine_lock``).
onnxruntime itself tolerates concurrent ``run`` calls on one session (two threads reading two
pages at once gave the same text), but on a shared 2-core machine two pages at once only compete
for the same cores, and each holds its page images and the detector's activations (the peak is
about 450 MB above the loaded engine per page). onnxruntime runs ``_threads()`` intra-op threads:
``PORTAL_OCR_THREADS``, else half the CPUs — 1 on this 2-core box, where 2 threads were no
faster (the other core is busy with the web workers, the database, the index) and cost more CPU
time; spin-waiting is off so that idle threads do not burn the CPU the web workers need.
"""
from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

RAPIDOCR = "rapidocr"
TESSERACT = "tesseract"
DET_LONG_SIDE = 1600  # detection input (px, long side); a 300-dpi A4 page is 3508
REC_BATCH = 1  # lines per recognition call: 1 measured ~15 % faster than rapidocr's 6
MIN_LINE_SCORE = 0.5
CLS_PIECES = 24  # pieces of lines the angle classifier sees to tell 0° from 180°
TESSERACT_LANGS = "chi_sim+chi_tra+eng"
TESSERACT_TIMEOUT = 300


def _threads() -> int:
    """onnxruntime intra-op threads: ``PORTAL_OCR_THREADS``, else half the CPUs (1 on 2 cores)."""
    cpus = os.cpu_count() or 1
    try:
        wanted = int(os.environ.get("PORTAL_OCR_THREADS", "") or max(1, cpus // 2))
    except ValueError:
        wanted = max(1, cpus // 2)
    return max(1, min(wanted, cpus))


@dataclass
class OcrLine:
    text: str
    score: float
    box: list[tuple[float, float]]  # 4 corners (tl, tr, br, bl) in the upright page's pixels


@dataclass
class OcrResult:
    text: str  # lines in reading order joined with "\n" (top-to-bottom, left-to-right)
    confidence: float  # mean line score 0..1 (0.0 when nothing found)
    rotation: int  # 0/90/180/270: degrees the page was turned CLOCKWISE to make its text upright
    skew: float  # degrees the text lay tilted counter-clockwise (straightened: turned back)
    engine: str  # "rapidocr" | "tesseract"
    lines: list[OcrLine] = field(default_factory=list)  # rapidocr: each line with its box
    size: tuple[int, int] = (0, 0)  # (width, height) of the upright page the boxes refer to


def engines() -> list[str]:
    """The engines available here: rapidocr always; tesseract when installed with chi_sim."""
    available = [RAPIDOCR]
    if _tesseract_ready():
        available.append(TESSERACT)
    return available


def ocr_image(image, *, engine: str = RAPIDOCR) -> OcrResult:
    """Read the text of one page image (PIL, any mode; 300 dpi is what the models like).
    Raises ValueError for an unknown or unavailable engine, RuntimeError when tesseract fails or
    takes longer than ``TESSERACT_TIMEOUT``. Thread-safe: one page at a time per process."""
    if engine == RAPIDOCR:
        with _engine_lock:
            return _rapid().read(image)
    if engine == TESSERACT:
        if not _tesseract_ready():
            raise ValueError("tesseract is not installed (with chi_sim)")
        return _tesseract(image)
    raise ValueError(f"unknown OCR engine {engine!r}")


# --- rapidocr ---------------------------------------------------------------------------------

_engine_lock = threading.Lock()
_engine = None


def _rapid() -> _Rapid:
    global _engine
    if _engine is None:
        _engine = _Rapid(_threads())
    return _engine


class _Rapid:
    def __init__(self, threads: int):
        from onnxruntime import ExecutionMode
        from rapidocr_onnxruntime import RapidOCR
        from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession

        original = OrtInferSession._init_sess_opts

        def options(config):
            opts = original(config)
            opts.execution_mode = ExecutionMode.ORT_SEQUENTIAL
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return opts

        OrtInferSession._init_sess_opts = staticmethod(options)
        try:
            engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        finally:
            OrtInferSession._init_sess_opts = staticmethod(original)
        self.det, self.cls, self.rec = engine.text_det, engine.text_cls, engine.text_rec
        self.rec.rec_batch_num = REC_BATCH
        self.threads = threads

    def read(self, image) -> OcrResult:
        import numpy as np

        page = _grey(image)
        height, width = page.shape[:2]
        boxes = self._detect(page)
        if boxes is None or len(boxes) == 0:
            return OcrResult("", 0.0, 0, 0.0, RAPIDOCR, size=(width, height))
        quads = np.array([_order(box) for box in boxes], dtype=np.float32)
        rotation = 0
        if _sideways(quads):  # turn the page clockwise by 90°; the boxes go with it
            page = np.ascontiguousarray(np.rot90(page, k=-1))
            quads = np.array([_order(np.stack([height - q[:, 1], q[:, 0]], axis=-1)) for q in quads],
                             dtype=np.float32)
            height, width = page.shape[:2]
            rotation = 90
        skew = _skew(quads)
        crops = [_crop(page, quad) for quad in quads]
        if self._upside_down(crops):
            crops = [np.ascontiguousarray(np.rot90(crop, k=2)) for crop in crops]
            quads = np.array([_order(np.stack([width - q[:, 0], height - q[:, 1]], axis=-1)) for q in quads],
                             dtype=np.float32)
            rotation = (rotation + 180) % 360
            skew = _skew(quads)
        results, _ = self.rec(crops)
        lines = [OcrLine(text.strip(), float(score), [(float(x), float(y)) for x, y in quad])
                 for quad, (text, score, *_) in zip(quads, results, strict=True)
                 if float(score) >= MIN_LINE_SCORE and text.strip()]
        lines = _reading_order(lines, skew)
        text = "\n".join(" ".join(line.text for line in row) for row in lines)
        lines = [line for row in lines for line in row]
        confidence = sum(line.score for line in lines) / len(lines) if lines else 0.0
        return OcrResult(text, round(confidence, 4), rotation, round(skew, 2) + 0.0, RAPIDOCR, lines, (width, height))

    def _detect(self, grey):
        """Line boxes (4 corners each) found on the page scaled to ``DET_LONG_SIDE``, in the
        full-size page's pixels; None when there are none."""
        import cv2
        import numpy as np

        height, width = grey.shape[:2]
        scale = min(1.0, DET_LONG_SIDE / max(height, width))
        small = grey if scale == 1.0 else cv2.resize(
            grey, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        boxes, _ = self.det(_bgr3(small))
        if boxes is None or len(boxes) == 0:
            return None
        return np.asarray(boxes, dtype=np.float32) / scale

    def _upside_down(self, crops) -> bool:
        """Whether the (horizontal) lines are upside down: the angle classifier's vote over short
        pieces of the longest lines (it was trained on pieces of about 4:1)."""
        pieces = []
        for crop in sorted(crops, key=lambda c: c.shape[1] / max(c.shape[0], 1), reverse=True):
            h, w = crop.shape[:2]
            if h < 8 or w < 2 * h:
                break
            step = 4 * h
            for x in sorted({0, max(0, (w - step) // 2), max(0, w - step)}):
                pieces.append(crop[:, x:x + step])
            if len(pieces) >= CLS_PIECES:
                break
        if not pieces:
            return False
        _, votes, _ = self.cls(pieces)
        evidence = sum((score if label == "180" else 1.0 - score) - 0.5 for label, score in votes)
        return evidence > 0


def _grey(image):
    """The page as one 8-bit channel, for a colour page its RED channel: red seal ink (公章) is
    then almost paper-white while black, blue and the text under the seal stay dark. On the
    benchmark's sealed pages this lifts character accuracy from about 0.85 to 0.98; red print (a
    letterhead) still reads, only fainter. The models' 3 channels are made per line (``_bgr3``)."""
    import numpy as np

    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    pixels = np.asarray(image)
    return np.ascontiguousarray(pixels if pixels.ndim == 2 else pixels[:, :, 0])


def _bgr3(grey):
    import cv2

    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def _order(quad):
    """The box's corners as (top-left, top-right, bottom-right, bottom-left) of the page's
    frame, whatever its tilt or shape: the first edge is the one running most nearly
    left-to-right. (Sorting corners by x, as rapidocr does, swaps them for a tall box tilted by a
    few degrees — a line on a page turned sideways.)"""
    import cv2
    import numpy as np

    points = cv2.boxPoints(cv2.minAreaRect(np.asarray(quad, dtype=np.float32)))
    x, y = points[:, 0], points[:, 1]
    if float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) < 0:  # make it clockwise (y down)
        points = points[::-1]
    edges = np.roll(points, -1, axis=0) - points
    start = int(np.argmax(edges[:, 0] / (np.linalg.norm(edges, axis=1) + 1e-6)))
    return np.roll(points, -start, axis=0).astype(np.float32)


def _sides(quad) -> tuple[float, float]:
    """(horizontal length, vertical length) of a box in (tl, tr, br, bl) order."""
    import numpy as np

    return float(np.linalg.norm(quad[1] - quad[0])), float(np.linalg.norm(quad[3] - quad[0]))


def _sideways(quads) -> bool:
    """True when most elongated boxes stand upright (the lines run top to bottom)."""
    wide = tall = 0.0
    for quad in quads:
        across, down = _sides(quad)
        if across >= 2 * down:
            wide += across
        elif down >= 2 * across:
            tall += down
    return tall > wide


def _skew(quads) -> float:
    """Counter-clockwise tilt of the lines in degrees: the length-weighted median angle of the
    long boxes (0.0 when there are none)."""
    angles = []
    for quad in quads:
        across, down = _sides(quad)
        if across >= 3 * down:
            (x0, y0), (x1, y1) = quad[0], quad[1]
            angles.append((-math.degrees(math.atan2(y1 - y0, x1 - x0)), across))
    if not angles:
        return 0.0
    angles.sort()
    half, total = sum(weight for _, weight in angles) / 2, 0.0
    for angle, weight in angles:
        total += weight
        if total >= half:
            return angle
    return angles[-1][0]


def _crop(page, quad):
    """The text line inside ``quad`` cut out of the page and straightened."""
    import cv2
    import numpy as np

    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(page, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_LINEAR if height > 64 else cv2.INTER_CUBIC)
    if height >= 1.5 * width:  # a vertical text column: read it lying down
        crop = np.rot90(crop)
    return _bgr3(np.ascontiguousarray(crop))


def _reading_order(lines: list[OcrLine], skew: float) -> list[list[OcrLine]]:
    """The lines grouped in rows, top-to-bottom, and each row left-to-right — in the deskewed
    frame (boxes whose centres lie within half a line height of each other share a row)."""
    theta = math.radians(skew)
    cos, sin = math.cos(theta), math.sin(theta)
    placed = []
    for line in lines:
        cx = sum(p[0] for p in line.box) / 4
        cy = sum(p[1] for p in line.box) / 4
        # undo the counter-clockwise tilt (y points down): turn the centre clockwise
        x, y = cx * cos - cy * sin, cx * sin + cy * cos
        placed.append((y, x, max(1.0, _sides_list(line.box)[1]), line))
    placed.sort(key=lambda item: (item[0], item[1]))
    rows: list[list] = []
    for y, x, height, line in placed:
        if rows and abs(y - rows[-1][0]) < 0.5 * min(height, rows[-1][1]):
            rows[-1][2].append((x, line))
        else:
            rows.append([y, height, [(x, line)]])
    return [[line for _, line in sorted(row[2], key=lambda item: item[0])] for row in rows]


def _sides_list(box) -> tuple[float, float]:
    (x0, y0), (x1, y1), _, (x3, y3) = box
    return math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)


# --- tesseract --------------------------------------------------------------------------------

_tesseract_state: dict[str, bool] = {}
_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
# tesseract separates every CJK character and the punctuation beside it with spaces
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK},.:;!?)])|(?<=[{_CJK},.:;!?(]) +(?=[{_CJK}])")


def _tesseract_ready() -> bool:
    if "ready" not in _tesseract_state:
        ready = False
        binary = shutil.which("tesseract")
        if binary:
            try:
                out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30)
                langs = set((out.stdout + out.stderr).split())
                ready = "chi_sim" in langs
            except (OSError, subprocess.SubprocessError):
                ready = False
        _tesseract_state["ready"] = ready
    return _tesseract_state["ready"]


def _tesseract(image) -> OcrResult:
    """Tesseract through its command line (``-l chi_sim+chi_tra+eng``, as many of those as are
    installed), after the same orientation and skew handling as above (tesseract's own OSD is
    an extra full pass). Confidence: tesseract's mean word confidence / 100."""
    with _engine_lock:
        upright, rotation, skew = _upright(image)
    langs = "+".join(lang for lang in TESSERACT_LANGS.split("+") if _has_lang(lang)) or "chi_sim"
    with tempfile.TemporaryDirectory(prefix="portal-ocr-") as tmp:
        path = os.path.join(tmp, "page.png")
        upright.save(path)
        env = dict(os.environ, OMP_THREAD_LIMIT=str(_threads()))
        try:
            out = subprocess.run(["tesseract", path, "stdout", "-l", langs, "--psm", "3", "tsv"],
                                 capture_output=True, text=True, timeout=TESSERACT_TIMEOUT, env=env)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"tesseract took more than {TESSERACT_TIMEOUT} s") from exc
    if out.returncode != 0:
        raise RuntimeError(f"tesseract failed: {out.stderr.strip()[:200]}")
    rows: dict[tuple, list[str]] = {}
    confidences = []
    for line in out.stdout.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        word, conf = cells[11], float(cells[10])
        if not word.strip() or conf < 0:
            continue
        rows.setdefault((int(cells[2]), int(cells[3]), int(cells[4])), []).append(word)
        confidences.append(conf / 100)
    text = "\n".join(_CJK_SPACE.sub("", " ".join(words)) for _, words in sorted(rows.items()))
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrResult(text, round(confidence, 4), rotation, round(skew, 2) + 0.0, TESSERACT, size=upright.size)


def _has_lang(lang: str) -> bool:
    key = f"lang:{lang}"
    if key not in _tesseract_state:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
        _tesseract_state[key] = lang in set((out.stdout + out.stderr).split())
    return _tesseract_state[key]


def _upright(image):
    """(upright image, clockwise rotation, skew) from rapidocr's detector and classifier: the page
    turned and straightened. Caller holds ``_engine_lock``."""
    import numpy as np
    from PIL import Image

    engine = _rapid()
    page = _grey(image)
    height = page.shape[0]
    boxes = engine._detect(page)
    if boxes is None:
        return image, 0, 0.0
    quads = np.array([_order(box) for box in boxes], dtype=np.float32)
    rotation = 0
    if _sideways(quads):
        page = np.ascontiguousarray(np.rot90(page, k=-1))
        quads = np.array([_order(np.stack([height - q[:, 1], q[:, 0]], axis=-1)) for q in quads], dtype=np.float32)
        rotation = 90
    if engine._upside_down([_crop(page, quad) for quad in quads]):
        page = np.ascontiguousarray(np.rot90(page, k=2))
        rotation = (rotation + 180) % 360
    skew = _skew(quads)  # a half turn keeps the angle
    upright = Image.fromarray(page)
    if abs(skew) >= 0.3:
        upright = upright.rotate(-skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    return upright, rotation, skew
