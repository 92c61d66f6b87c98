"""Read a price-override file (JSON or YAML): the one function here that touches the disk."""

from __future__ import annotations

import json
from pathlib import Path

from ..files import read_input
from .errors import ProviderError
from .prices import PriceBook


def load_price_file(path: str | Path, *, use_library: bool = True) -> PriceBook:
    """``{"models": {"gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25}}}``."""
    p = Path(path)
    try:
        text = read_input(p).decode("utf-8-sig")
    except OSError as exc:
        raise ProviderError("bad-override", f"cannot read price file `{p}`: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ProviderError("bad-override", f"price file `{p}` is not UTF-8 text (byte {exc.start})") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml  # noqa: PLC0415

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001
        raise ProviderError("bad-override", f"price file `{p}` is not valid: {str(exc)[:120]}") from None
    return PriceBook.from_mapping(data, use_library=use_library)
