"""A legacy Flask app (its own tables, rows and Alembic migrations) with the extension added,
driven by SSO and SCIM end to end, on SQLite and PostgreSQL.
"""
