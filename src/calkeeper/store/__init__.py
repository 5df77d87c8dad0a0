"""Storage on SQLAlchemy: tables, migrations, claims that never over-allocate, backups."""
