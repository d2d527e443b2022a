//! (owned by the kdc work; filled in by its tests' author)
