"""Requests held for a person to decide: the queue, sealed at rest."""
