//! SQLAlchemy-compatible URL parsing and native protocol readiness probes (PostgreSQL, MySQL/MariaDB, Redis, AMQP, TCP).
