"""The ``stax`` command line (cyclopts).  Commands live one area per module and load lazily."""
