"""What the importers share about a channel Split: its params from the sizes of the parts a model cuts."""

from __future__ import annotations

from typing import Any


def split_params(dim: int, sizes: list[int], listed: bool = False) -> dict[str, Any]:
    """A Split's params for parts of ``sizes`` along ``dim``, as a design file writes them (defaults left out).

    Equal parts are ``chunks``, which fit any input size, unless the model ``listed`` its sizes (``torch.split(x,
    [4, 4], 1)``): then, as for unequal parts (``x.chunk(2, 1)`` of 5 channels is 3 + 2), the ``sections``.
    """
    params: dict[str, Any] = {"dim": dim} if dim != 1 else {}
    if listed or len(set(sizes)) > 1:
        return params | {"sections": list(sizes)}
    return params | ({"chunks": len(sizes)} if len(sizes) != 2 else {})
