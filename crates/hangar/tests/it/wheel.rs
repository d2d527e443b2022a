//! The hangar wheel: built with maturin, installed with pip into a fresh venv, and run.
