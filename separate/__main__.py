"""``python -m separate`` is the ``separate`` command."""

from separate.cli import main

if __name__ == "__main__":
    main()
