"""`python -m kzoo ...` = `kzoo ...`."""

from kzoo.cli import entry

if __name__ == "__main__":
    entry()
