"""Rule indexing (placeholder until the index lands): no index."""


def build_index(rules):  # type: ignore[no-untyped-def]
    return None
