"""The package version, in one place (the CLI's --version, SARIF logs, ``ap.__version__``)."""

__version__ = "0.1.0"
