"""Errors raised by the data pipeline."""


class DataError(ValueError):
    """Bad dataset input: a missing, malformed or inconsistent annotation, detection or image
    file, or a dataset that is empty after filtering. The message names the file (and the
    offending record where there is one) and says what to do."""
