"""People as the later stages read them: normalised, columnar, one representation for index records and requests."""
