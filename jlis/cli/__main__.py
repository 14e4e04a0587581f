"""``python -m jlis.cli ...``: same as the ``jlis`` console script."""

from jlis.cli import main

if __name__ == "__main__":
    main()
