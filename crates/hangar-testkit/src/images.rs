//! (owned by the images work; filled in by its tests' author)
