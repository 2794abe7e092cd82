"""Building blocks of the self-contained HTML reports: page, tables and plots as inline SVG.

Every report (evaluation, monitoring) is one UTF-8 file with no scripts and no
external resources, so it can be mailed or archived as is. Plots need
matplotlib (the ``report`` extra); without it a one-line note replaces each
plot and the tables still render.
"""

from __future__ import annotations

import html
import io
import math
import re
import warnings

import numpy as np

#: The note shown in place of a plot when matplotlib is missing.
MISSING_PLOTS = "Plots need matplotlib: install sujian-router[report]"
_CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")
_FOLD_ROWS = 40
_CSS = (
    "body{font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif;margin:2em auto;"
    "max-width:72em;padding:0 1em;color:#222}"
    "h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}"
    "p.lead{color:#555;margin-top:0}p.note{color:#8a5a00}"
    "table{border-collapse:collapse;margin:.8em 0;font-size:.92em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top;white-space:nowrap}"
    "th{background:#f3f3f3;text-align:left}td:first-child{text-align:left}td.long{white-space:normal}"
    "caption{font-weight:bold;text-align:left;padding:.3em 0}td.txt{text-align:left;max-width:40em}"
    ".scroll{overflow-x:auto;max-width:100%}details{margin:.8em 0}summary{cursor:pointer;font-weight:bold}"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}"
    ".row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.row>figure{max-width:48%}"
)


def esc(value) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(value))


def _cell(v, float_format):
    if isinstance(v, (float, np.floating)):
        return "<td></td>" if math.isnan(v) else f"<td>{float_format.format(v)}</td>"
    if isinstance(v, (int, np.integer, bool, np.bool_)):
        return f"<td>{esc(v)}</td>"
    return f'<td class="txt{" long" if len(str(v)) > 30 else ""}">{esc(v)}</td>'


def table(df, caption, float_format="{:.4f}", fold=_FOLD_ROWS) -> str:
    """An HTML table of a frame (index dropped), every text escaped, NaN shown empty.

    A table of more than ``fold`` rows is folded into a ``<details>`` element
    (closed; opening it needs no script); a wide one scrolls sideways; an
    empty one is the caption and "none".

    Examples
    --------
    >>> import pandas as pd
    >>> table(pd.DataFrame({"a": ["<b>"], "x": [float("nan")]}), "t")
    '<div class="scroll"><table><caption>t</caption><thead><tr><th>a</th><th>x</th></tr></thead><tbody><tr><td class="txt">&lt;b&gt;</td><td></td></tr></tbody></table></div>'
    """
    if df.empty:
        return f'<p class="none"><strong>{esc(caption)}</strong>: none.</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(_cell(v, float_format) for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    out = (f'<div class="scroll"><table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
           f"<tbody>{body}</tbody></table></div>")
    if len(df) > fold:
        return f"<details><summary>{esc(caption)}: {len(df)} rows (click to show)</summary>{out}</details>"
    return out


def sample_rows(frame, n=20):
    """At most ``n`` rows spread evenly over a frame (first and last kept)."""
    if len(frame) <= n:
        return frame
    idx = np.unique(np.linspace(0, len(frame) - 1, n).round().astype(int))
    return frame.iloc[idx].reset_index(drop=True)


def page(title, parts) -> str:
    """The whole HTML document: title, the shared style sheet and the body parts in order."""
    return "\n".join(["<!DOCTYPE html>", '<html lang="zh"><head><meta charset="utf-8">',
                      f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head><body>",
                      *parts, "</body></html>"])


def plots_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure(draw, caption, *args, figsize=(6.4, 4.0), **kwargs) -> str:
    """``draw(*args, ax=ax, **kwargs)`` on a new figure of ``figsize`` inches, as an inline SVG ``<figure>``.

    The figure is made without pyplot (no backend is switched, nothing is
    left open). Text stays text in the SVG, so the browser draws Chinese
    with its own fonts. Without matplotlib a one-line note replaces the
    plot; a plot that cannot be drawn for this data (``ValueError``) is
    replaced by a note naming why.
    """
    if not plots_available():
        return f'<p class="note">{esc(MISSING_PLOTS)}</p>'
    import matplotlib
    from matplotlib.figure import Figure

    rc = {"svg.fonttype": "none", "svg.hashsalt": "sujian-router", "font.size": 9}
    family = cjk_family()
    if family is not None:  # Latin from the default font, Chinese from the CJK one (glyph fallback)
        rc.update({"font.family": "sans-serif",
                   "font.sans-serif": ["DejaVu Sans", family, *matplotlib.rcParams["font.sans-serif"]]})
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        # without a CJK font matplotlib only mis-measures Chinese text: the browser draws it
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig = Figure(figsize=figsize, layout="constrained")
        try:
            draw(*args, ax=fig.add_subplot(), **kwargs)
        except ValueError as exc:
            return f'<p class="note">{esc(caption)}: not drawn ({esc(exc)})</p>'
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = re.sub(r"^.*?(<svg\b)", r"\1", buf.getvalue(), count=1, flags=re.S)
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def require_matplotlib():
    """Import matplotlib, or raise an ImportError whose one line says which extra installs it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"{MISSING_PLOTS} (matplotlib is not installed)", name="matplotlib") from exc
    return matplotlib


def new_axes(ax, figsize):
    """``ax`` itself, or the Axes of a new constrained-layout figure of ``figsize`` inches."""
    require_matplotlib()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def cjk_family():
    """The first installed font family that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


def use_cjk_font(texts):
    """Give Chinese texts (tick labels, titles) a CJK font when one is installed (else leave them)."""
    texts = [t for t in texts if not t.get_text().isascii()]
    family = cjk_family() if texts else None
    if family is None:
        return
    for t in texts:
        t.set_fontfamily([family, "sans-serif"])


def short(name, chars=16) -> str:
    """A name cut to ``chars`` characters with an ellipsis.

    Examples
    --------
    >>> short("深圳市福田区城市管理和综合执法局", 8)
    '深圳市福田区城…'
    """
    name = "" if name is None else str(name)
    return name if len(name) <= chars else name[: chars - 1] + "…"
