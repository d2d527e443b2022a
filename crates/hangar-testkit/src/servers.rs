//! (owned by the servers work; filled in by its tests' author)
