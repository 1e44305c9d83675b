"""Who may call the service: clients and their keys, per-client rate limits, and enumeration detection."""
