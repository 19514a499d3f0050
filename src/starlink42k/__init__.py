"""starlink42k: when will there be 42,000 Starlink satellites in orbit, and how many launches will
it take? The pipeline library; `starlink42k` (cli.py) is its command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("starlink42k")  # pyproject.toml's, the one place it is written
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
