"""Name lookup shared by the activation and loss registries."""


def lookup(registry, kind, name):
    """``registry[name]``, or TypeError/ValueError naming ``kind`` and the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} names must be strings, got {type(name).__name__} {name!r}; "
                        f"valid: {sorted(registry)}")
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; valid: {sorted(registry)}") from None
