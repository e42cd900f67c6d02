"""The text check: the text a prompt quotes, read back from the image with Tesseract, scored by
edit distance (docs/checks.md). Plain Python, no Django: callers pass the settings in.

text accuracy = 1 - (edits needed to turn each quote into its closest span of the OCR text,
summed) / (characters quoted, summed), after folding case, width forms and spacing.
"""

import os
import re
import subprocess
import threading
import unicodedata
from dataclasses import dataclass, field

import pytesseract

# Debian's Tesseract uses OpenMP: one thread per run keeps a worker's OCR on one core (and was
# faster than the default on a 1024x1024 image here). The child process inherits this.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

# Opening -> closing quote marks. Straight single quotes are handled apart (apostrophes).
QUOTE_PAIRS = {'"': '"', "“": "”", "„": "“", "«": "»", "‹": "›", "「": "」", "『": "』", "‘": "’"}
_PAIRED = re.compile("|".join(f"{re.escape(o)}([^{re.escape(c)}\n]*?){re.escape(c)}" for o, c in QUOTE_PAIRS.items()))
# 'text': the opening mark follows no letter or digit (so "Ruth's" opens nothing) and the closing
# one is followed by none.
_SINGLE = re.compile(r"(?<![\w'])'(?!\s)([^'\n]+?)(?<!\s)'(?![\w'])")

# Unicode script -> (Tesseract language, its name for people). Scripts not listed cannot be read.
SCRIPTS = {
    "latin": ("eng", "Latin"),
    "han": ("chi_sim", "Chinese (simplified)"),
    "kana": ("jpn", "Japanese"),
    "hangul": ("kor", "Korean"),
    "devanagari": ("hin", "Hindi (Devanagari)"),
    "bengali": ("ben", "Bengali"),
    "cyrillic": ("rus", "Cyrillic"),
    "greek": ("ell", "Greek"),
    "arabic": ("ara", "Arabic"),
    "hebrew": ("heb", "Hebrew"),
    "thai": ("tha", "Thai"),
}
_RANGES = [  # (first, last, script): enough to tell the scripts above apart
    (0x0041, 0x024F, "latin"), (0x1E00, 0x1EFF, "latin"), (0x0370, 0x03FF, "greek"), (0x0400, 0x04FF, "cyrillic"),
    (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"), (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"), (0x0E00, 0x0E7F, "thai"), (0x1100, 0x11FF, "hangul"), (0xAC00, 0xD7AF, "hangul"),
    (0x3040, 0x30FF, "kana"), (0x31F0, 0x31FF, "kana"), (0xFF66, 0xFF9F, "kana"),
    (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0xF900, 0xFAFF, "han"),
]


def quoted_texts(prompt):
    """The texts the prompt quotes, in order, each once: "…", “…”, „…“, «…», ‹…›, 「…」, 『…』,
    ‘…’ and '…' (an apostrophe inside a word opens no quote)."""
    found = []  # (position, text)
    rest = list(prompt or "")
    for match in _PAIRED.finditer(prompt or ""):
        found.append((match.start(), match.group(match.lastindex)))
        rest[match.start():match.end()] = " " * (match.end() - match.start())
    for match in _SINGLE.finditer("".join(rest)):
        found.append((match.start(), match.group(1)))
    texts = []
    for _, text in sorted(found):
        text = " ".join(text.split())
        if fold(text) and text not in texts:
            texts.append(text)
    return texts


def fold(text):
    """Compare-ready text: compatibility forms folded (full-width letters, ligatures), case
    folded, every space removed (OCR spacing is not what the check is about)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(text.split())


def script_of(char):
    code = ord(char)
    for first, last, script in _RANGES:
        if first <= code <= last:
            return script if char.isalpha() or script != "latin" else None
    if char.isalpha():  # a letter of a script not listed: named by Unicode ("ETHIOPIC SYLLABLE ...")
        return unicodedata.name(char, "unknown").split()[0].lower()
    return None


def scripts_in(text):
    """The scripts of the letters in text (digits, punctuation and marks belong to none)."""
    scripts = {script_of(c) for c in text} - {None}
    if "kana" in scripts:
        scripts.discard("han")  # kanji in Japanese text: Tesseract's jpn reads them
    return scripts


def language_for(text):
    """The Tesseract languages ("hin", "eng+chi_sim", ...) that read this text, and the names of
    the scripts no language here can read."""
    scripts = scripts_in(text) or {"latin"}  # only digits and marks: any language reads those
    known = sorted(s for s in scripts if s in SCRIPTS)
    unknown = sorted(s for s in scripts if s not in SCRIPTS)
    return [SCRIPTS[s][0] for s in known], unknown


def debian_package(language):
    return "tesseract-ocr-" + language.replace("_", "-")


def closest_span_distance(needle, haystack):
    """The fewest single-character edits (insert, delete, substitute) turning ``needle`` into
    some span of ``haystack`` (approximate substring matching): len(needle) when nothing matches
    at all. Myers' bit-parallel algorithm (J. ACM 46(3), 1999), one Python integer as the bit
    vector: O(len(haystack)) integer operations, so a long quote against a page of text costs
    milliseconds, not seconds of a worker thread."""
    m = len(needle)
    if m == 0:
        return 0
    masks = {}
    for i, char in enumerate(needle):
        masks[char] = masks.get(char, 0) | (1 << i)
    full, top = (1 << m) - 1, 1 << (m - 1)
    plus, minus, score = full, 0, m  # vertical deltas of the column, and its last cell
    best = m
    for char in haystack:
        eq = masks.get(char, 0)
        xv = eq | minus
        xh = ((((eq & plus) + plus) & full) ^ plus) | eq
        hplus = (minus | ~(xh | plus)) & full
        hminus = plus & xh
        if hplus & top:
            score += 1
        elif hminus & top:
            score -= 1
        # a span may start anywhere: the row above the needle is all zeros, so nothing is carried in
        hplus = (hplus << 1) & full
        hminus = (hminus << 1) & full
        plus = (hminus | ~(xv | hplus)) & full
        minus = hplus & xv
        best = min(best, score)
    return best


@dataclass
class QuoteScore:
    text: str
    language: str
    distance: int | None = None  # None: not read (language unavailable, OCR failed)

    @property
    def accuracy(self):
        length = len(fold(self.text))
        return None if self.distance is None else max(0.0, 1 - self.distance / length)


@dataclass
class TextCheck:
    """The text check of one image. ``accuracy`` is None when nothing could be scored; ``notes``
    say why (no quotes, a language missing, OCR timed out)."""

    expected: list
    quotes: list = field(default_factory=list)  # [QuoteScore]
    read: dict = field(default_factory=dict)  # language -> the text Tesseract read
    notes: list = field(default_factory=list)
    unavailable: list = field(default_factory=list)  # the people's names of the scripts not read

    @property
    def accuracy(self):
        scored = [q for q in self.quotes if q.distance is not None]
        if not scored:
            return None
        length = sum(len(fold(q.text)) for q in scored)
        return max(0.0, 1 - sum(q.distance for q in scored) / length)

    @property
    def read_text(self):
        return "\n".join(text for text in self.read.values() if text)

    @property
    def status(self):
        if not self.expected:
            return "no_quotes"
        if self.accuracy is None:
            return "unavailable"
        return "partial" if len([q for q in self.quotes if q.distance is not None]) < len(self.quotes) else "scored"


_languages = None
_languages_lock = threading.Lock()


def installed_languages(tesseract_cmd="tesseract"):
    """The languages this machine's Tesseract has data for (asked once per process); an empty
    set when Tesseract itself is missing."""
    global _languages
    with _languages_lock:
        if _languages is None:
            pytesseract.pytesseract.tesseract_cmd = tesseract_cmd
            try:
                _languages = frozenset(pytesseract.get_languages(config=""))
            except (pytesseract.TesseractNotFoundError, pytesseract.TesseractError, OSError,
                    subprocess.SubprocessError):
                _languages = frozenset()
        return _languages


def forget_languages():
    """Ask Tesseract again next time (after installing a language pack, and in tests)."""
    global _languages
    with _languages_lock:
        _languages = None


def check_text(prompt, image_path, *, timeout, languages=None, tesseract_cmd="tesseract"):
    """Read the image at ``image_path`` once per language its prompt's quotes need (each run
    ended after ``timeout`` seconds) and score every quote against what was read."""
    result = TextCheck(expected=quoted_texts(prompt))
    if not result.expected:
        return result
    languages = installed_languages(tesseract_cmd) if languages is None else frozenset(languages)
    missing = {}  # the people's name of what cannot be read -> what to do about it
    for text in result.expected:
        langs, unknown = language_for(text)
        lacking = {f"the {script} script": "no Tesseract language is set up for it" for script in unknown}
        lacking.update({_name(lang): f"install {debian_package(lang)}" for lang in langs if lang not in languages})
        lang = "+".join(langs)
        if lacking:
            missing.update(lacking)
            result.quotes.append(QuoteScore(text, lang))
            continue
        if lang not in result.read:
            result.read[lang] = _ocr(image_path, lang, timeout, tesseract_cmd, result.notes)
        read = result.read[lang]
        distance = None if read is None else closest_span_distance(fold(text), fold(read))
        result.quotes.append(QuoteScore(text, lang, distance))
    result.unavailable = list(missing)
    if not languages:
        result.notes.insert(0, "OCR unavailable: Tesseract is not installed (apt-get install tesseract-ocr).")
    else:
        result.notes[:0] = [f"OCR unavailable for {name}: {how}" for name, how in missing.items()]
    return result


def _name(language):
    return next(name for code, name in SCRIPTS.values() if code == language)


def _ocr(image_path, lang, timeout, tesseract_cmd, notes):
    pytesseract.pytesseract.tesseract_cmd = tesseract_cmd
    try:
        return pytesseract.image_to_string(image_path, lang=lang, timeout=timeout)
    except RuntimeError as exc:  # pytesseract's timeout
        if "timeout" not in str(exc).lower():
            raise
        notes.append(f"OCR ({lang}) stopped after its {timeout:g} s limit; those quotes are not scored.")
    except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError, OSError) as exc:
        notes.append(f"OCR ({lang}) failed: {str(exc)[:200]}")
    return None
