"""Finding a CJK font for Chinese labels, and falling back to English without one.

Matplotlib's default font (DejaVu Sans) has no Chinese glyphs: labels such as 首贷户 would
draw as empty boxes. :func:`cjk_font` looks for one, in this order:

1. the environment variable ``GUARANTEE_SIM_CJK_FONT``: a font file (.ttf/.otf/.ttc),
   registered with matplotlib, or the family name of an installed font;
2. a list of well-known families (Noto Sans CJK SC / Source Han Sans, WenQuanYi, the
   Windows and macOS system fonts) among the fonts matplotlib knows;
3. fontconfig (``fc-list :lang=zh``), whose files are registered with matplotlib — this
   also finds fonts installed after matplotlib built its font cache.

Without one, :func:`resolve_lang` warns (:class:`CJKFontWarning`, naming the package to
install) and the figures use English labels. To install one on Debian/Ubuntu:
``apt-get install fonts-noto-cjk``; elsewhere, Noto Sans CJK SC from
https://github.com/notofonts/noto-cjk.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import warnings
from pathlib import Path

from .text import check_lang

ENV_VAR = "GUARANTEE_SIM_CJK_FONT"

#: families with Simplified Chinese glyphs, preferred first
CANDIDATES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "STHeiti",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "AR PL UMing CN",
    "Arial Unicode MS",
)

INSTALL_HINT = (
    "install a CJK font, e.g. `apt-get install fonts-noto-cjk` on Debian/Ubuntu "
    "(or Noto Sans CJK SC from https://github.com/notofonts/noto-cjk), or set "
    f"{ENV_VAR} to a .ttf/.otf/.ttc font file"
)


class CJKFontWarning(UserWarning):
    """No font with Chinese glyphs was found; figures fall back to English labels."""


def _known_families() -> set[str]:
    from matplotlib import font_manager

    return {f.name for f in font_manager.fontManager.ttflist}


def _register(path: str) -> str | None:
    """Add a font file to matplotlib; its family name, or None if it cannot be read."""
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=path).get_name()
    except (OSError, RuntimeError, ValueError):
        return None


def _fontconfig_files() -> list[str]:
    """Files of fonts that fontconfig says cover Chinese (empty without fontconfig)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listing = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.strip().rstrip(":") for line in listing.splitlines() if line.strip()]
    # prefer regular sans-serif files
    return sorted(
        files, key=lambda f: ("Serif" in f, "Sans" not in f and "Hei" not in f, "Bold" in f, f)
    )


@functools.cache
def cjk_font() -> str | None:
    """The family name of a font with Chinese glyphs that matplotlib can use, or None.

    Examples
    --------
    >>> from guarantee_sim.reporting import cjk_font
    >>> family = cjk_font()  # e.g. 'Noto Sans CJK SC'; None where no such font is installed
    >>> family is None or isinstance(family, str)
    True
    """
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen:
        if Path(chosen).is_file():
            name = _register(chosen)
            if name:
                return name
        elif chosen in _known_families():
            return chosen
        warnings.warn(
            f"{ENV_VAR}={chosen!r} is neither a readable font file nor an installed "
            "font family; looking for another CJK font",
            CJKFontWarning,
            stacklevel=2,
        )
    known = _known_families()
    for family in CANDIDATES:
        if family in known:
            return family
    for path in _fontconfig_files():
        name = _register(path)
        if name:
            known = _known_families()
            for family in CANDIDATES:
                if family in known:
                    return family
            return name
    return None


def resolve_lang(lang: str) -> str:
    """The language the figures can be drawn in: ``lang``, or "en" with a warning.

    ``"zh"`` needs a CJK font (:func:`cjk_font`); without one this warns with
    :class:`CJKFontWarning`, naming the package to install, and returns ``"en"``.
    """
    check_lang(lang)
    if lang == "zh" and cjk_font() is None:
        warnings.warn(
            f"no font with Chinese glyphs found, so figures use English labels "
            f"(party and segment names) instead of Chinese ones: {INSTALL_HINT}",
            CJKFontWarning,
            stacklevel=3,
        )
        return "en"
    return lang


def font_families() -> list[str]:
    """Font family list for text that may hold Chinese: the CJK font first, DejaVu after."""
    font = cjk_font()
    return [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
