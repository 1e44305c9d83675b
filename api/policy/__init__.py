"""Whether a request may be answered: its grounds, and the policy versions that judge them (``policies/``)."""
