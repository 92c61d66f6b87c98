"""``python -m aigw_policy.cli``: the ``aigw-policy`` command."""

from . import main

if __name__ == "__main__":
    main()
