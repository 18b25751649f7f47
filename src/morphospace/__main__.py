"""Allow ``python -m morphospace`` (and ``torchrun -m morphospace``)."""

from morphospace.cli import main

if __name__ == "__main__":
    main()
