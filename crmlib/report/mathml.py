"""Formulas in the report's prose as MathML, made at export: typeset with no network.

A lesson writes its formulas in TeX in markdown cells, ``$…$`` inline and
``$$…$$`` on their own (JupyterLab typesets them with MathJax). The report
removes MathJax to stay offline, so the formulas are converted here to
MathML with :mod:`latex2mathml` (pure Python), which Chromium renders
natively since version 109 (and Firefox and Safari long before).

The conversion happens around nbconvert's markdown rendering:
:func:`protect` swaps each formula for a placeholder before the markdown is
rendered (so that markdown never sees TeX's ``_`` and ``*``), and
:func:`restore` puts MathML in place of the placeholders in the rendered
HTML. Code spans and fenced code blocks are left alone, and so is an
escaped ``\\$`` (a dollar sign in prose). A formula :mod:`latex2mathml`
cannot convert shows as code (its TeX without the dollar signs), never as
raw ``$…$``.
"""

from __future__ import annotations

import html
import re
import secrets

#: one token per export; a placeholder is TOKEN + number + "Z" (letters and digits only, so
#: that markdown leaves it alone, inside emphasis, links and headings too)
_PLACEHOLDER = re.compile(r"CRMMATH([a-z0-9]{8})(\d+)Z")

_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.|\n)+?(?<!`)\1(?!`)")
_DISPLAY = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$", re.DOTALL)
# pandoc's rule: the opening $ has a non-space right after it, the closing $ a non-space right
# before it and no digit right after it; no blank line inside
_INLINE = re.compile(r"(?<![\\$])\$(?![\s$])((?:[^$\n\\]|\\.|\n(?!\s*\n))+?)(?<![\s\\])\$(?![\d$])")


def to_mathml(tex: str, display: bool = False) -> str:
    """One TeX formula as a MathML ``<math>`` element, or as code if it cannot be converted.

    Parameters
    ----------
    tex : str
        The formula without its dollar signs.
    display : bool, default False
        A display formula (``$$…$$``): a block of its own.

    Returns
    -------
    str
        ``<math …>…</math>``, or ``<code class="crm-tex">…</code>`` holding the
        TeX when :mod:`latex2mathml` fails on it.
    """
    from latex2mathml.converter import convert

    tex = tex.strip()
    try:
        mathml = convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises its own and plain exceptions on TeX it lacks
        return f'<code class="crm-tex">{html.escape(tex)}</code>'
    label = html.escape(tex, quote=True)
    return mathml.replace("<math ", f'<math aria-label="{label}" ', 1)


def _outside_code(source: str):
    """Split markdown into (text, is_code) pieces: fenced blocks and code spans are code."""
    pieces: list[tuple[str, bool]] = []
    lines = source.splitlines(keepends=True)
    block: list[str] = []
    fence = None
    prose: list[str] = []
    for line in lines:
        opened = _FENCE.match(line)
        if fence is None and opened:
            pieces.append(("".join(prose), False))
            prose, fence = [], opened.group(1)
            block = [line]
        elif fence is not None:
            block.append(line)
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                pieces.append(("".join(block), True))
                fence = None
        else:
            prose.append(line)
    if fence is not None:  # an unclosed fence runs to the end (CommonMark)
        pieces.append(("".join(block), True))
    pieces.append(("".join(prose), False))
    for text, is_code in pieces:
        if is_code:
            yield text, True
            continue
        at = 0
        for span in _CODE_SPAN.finditer(text):
            yield text[at : span.start()], False
            yield span.group(0), True
            at = span.end()
        yield text[at:], False


def protect(source: str) -> tuple[str, dict[str, str]]:
    """Swap each ``$$…$$`` and ``$…$`` formula outside code for a placeholder.

    Returns
    -------
    (str, dict)
        The markdown with placeholders, and each placeholder's MathML
        (:func:`to_mathml`). A display formula's placeholder stands alone
        between blank lines, so that it becomes a paragraph of its own.
    """
    token = secrets.token_hex(4)
    maths: dict[str, str] = {}

    def keep(mathml: str) -> str:
        key = f"CRMMATH{token}{len(maths)}Z"
        maths[key] = mathml
        return key

    out = []
    for text, is_code in _outside_code(source):
        if is_code or "$" not in text:
            out.append(text)
            continue
        text = _DISPLAY.sub(lambda m: f"\n\n{keep(to_mathml(m.group(1), display=True))}\n\n", text)
        text = _INLINE.sub(lambda m: keep(to_mathml(m.group(1))), text)
        out.append(text)
    return "".join(out), maths


def restore(rendered: str, maths: dict[str, str]) -> str:
    """Put the MathML in place of the placeholders in the rendered HTML.

    Inside an attribute (a heading's ``id``) a formula becomes plain letters
    instead; a display formula's paragraph becomes the formula itself.
    """
    if not maths:
        return rendered

    def plain(match: re.Match) -> str:
        value = _PLACEHOLDER.sub(lambda m: "math", match.group(0))
        return value

    rendered = re.sub(r'="[^"]*CRMMATH[^"]*"', plain, rendered)
    rendered = re.sub(
        r"<p>\s*(CRMMATH[a-z0-9]{8}\d+Z)\s*</p>",
        lambda m: maths.get(m.group(1), m.group(0)),
        rendered,
    )
    return _PLACEHOLDER.sub(lambda m: maths.get(m.group(0), m.group(0)), rendered)
