"""The application: run configs and folders, the ``numgan`` command line, ``numgan bench``."""
