"""The approved-trace service: one lawful, approved, certain trace at a time, and a record of every request.

A request's way through it: ``access`` (who asks: keys, rate limits, probing), ``policy`` (may they: the policy
in force judges the grounds), ``usecases`` (admission of a trace request, review, collection, register reads),
``review`` (the sealed queue of held requests), ``audit`` (the hash-chained register and what it publishes). It
is served by ``http`` and run by ``cli`` (``python -m api``), on ``storage`` (tables, engine, migrations), from
``settings`` and ``wiring``.
"""
