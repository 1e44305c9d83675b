"""The tracing core: one request in, one decision out, and the disclosure only of a certain, unrestricted match.

The packages are the data flow, in order: ``contract`` (what comes in) -> ``records`` (the columnar form) ->
``index`` (build and storage) -> ``blocking`` -> ``comparison`` -> ``scoring`` -> ``decision`` -> ``disclosure``;
``tracer`` runs them. Beside them: ``protection`` (keys, tokens, encodings, sealed payloads), ``estimation`` (the
model), ``reports`` (evaluation, explanation), ``build`` (an index and its model from a population file) and
``cli``. A library: no web or database code; see docs/matching.md.
"""
