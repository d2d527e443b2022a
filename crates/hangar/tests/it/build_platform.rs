//! Builds for another architecture: `--platform`, `--hangar-binary ARCH=PATH`, the architecture check, and an arm64 stage under qemu.
