//! The Dockerfile's build-argument catalogue (being moved here from `hangar-install`).
