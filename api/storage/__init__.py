"""Where the service keeps its state: the tables, the database engine, and the Alembic migrations."""
