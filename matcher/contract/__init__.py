"""What the tracing core reads: the population and request schemas, the request type, and the normal forms every
value is put in before anything compares it."""
