"""Durable store (SQLAlchemy models, repositories, Alembic migrations) and live state."""
