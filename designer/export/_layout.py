"""Line layout for generated Python: statements that do not fit the width are wrapped at their argument list."""

from __future__ import annotations

from collections.abc import Iterator

WIDTH = 120
_OPEN, _CLOSE = "([{", ")]}"


def fit(code: str, indent: str, comment: str = "") -> list[str]:
    """``code`` as one line if it fits, else wrapped at the first bracket that holds a top-level comma (or at its
    last bracket); calls go one per line, other items as many as fit::

        cat = torch.cat(
            [a, b, c,
             ...],
            dim=1,
        )  # comment
    """
    line = f"{indent}{code}  # {comment}" if comment else f"{indent}{code}"
    if len(line) <= WIDTH:
        return [line]
    group = _group_to_wrap(code)
    if group is None:
        return [line]
    start, end = group
    contents = code[start + 1 : end]
    items = _split(contents)
    lone = len(items) == 1 and not contents.rstrip().endswith(",")  # f(x) wraps without a comma; (x,) keeps it
    lines = [indent + code[: start + 1], *_rows([i if lone else i + "," for i in items], indent + "    ")]
    tail = code[end:]
    return [*lines, f"{indent}{tail}  # {comment}" if comment else indent + tail]


def _rows(pieces: list[str], inner: str) -> list[str]:
    """The wrapped items: a call (a module, in a Sequential) on a line of its own, others packed to the width."""
    calls = any(ch in _OPEN for piece in pieces for ch in piece)
    lines: list[str] = []
    row = ""
    for piece in pieces:
        if row and (calls or len(inner) + len(row) + 1 + len(piece) > WIDTH):
            lines.append(inner + row)
            row = ""
        if len(inner) + len(piece) > WIDTH:
            lines.extend(fit(piece, inner))
        else:
            row = f"{row} {piece}" if row else piece
    return lines + ([inner + row] if row else [])


def _scan(code: str) -> Iterator[tuple[int, str, int]]:
    """Yield (index, character, depth before it) outside string literals."""
    depth, quote = 0, ""
    for i, ch in enumerate(code):
        if quote:
            quote = "" if ch == quote and code[i - 1] != "\\" else quote
            continue
        if ch in "'\"":
            quote = ch
            continue
        if ch in _CLOSE:
            depth -= 1
        yield i, ch, depth
        if ch in _OPEN:
            depth += 1


def _group_to_wrap(code: str) -> tuple[int, int] | None:
    """(open, close) indices of the first top-level bracket pair whose contents hold a top-level comma, else of
    the last non-empty top-level pair (a call with one long argument)."""
    start, has_comma, last = -1, False, None
    for i, ch, depth in _scan(code):
        if depth == 0 and ch in _OPEN:
            start, has_comma = i, False
        elif depth == 1 and ch == "," and start >= 0:
            has_comma = True
        elif depth == 0 and ch in _CLOSE:
            if has_comma:
                return start, i
            last = (start, i) if i > start + 1 else last
    return last


def _split(text: str) -> list[str]:
    """Top-level comma-separated items of a bracket's contents."""
    items, last = [], 0
    for i, ch, depth in _scan(text):
        if ch == "," and depth == 0:
            items.append(text[last:i].strip())
            last = i + 1
    if text[last:].strip():
        items.append(text[last:].strip())
    return items
