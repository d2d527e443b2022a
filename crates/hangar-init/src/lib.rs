//! A minimal PID 1 (being moved here from `hangar-entrypoint`).
