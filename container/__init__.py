"""The processing-container layer: job environment, file I/O, Spark session, exit message."""
