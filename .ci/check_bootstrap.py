#!/usr/bin/env python3
"""Checks that a built bootstrap is a Linux ELF executable for the expected architecture, linked
position-dependent (ET_EXEC: no relocations for the loader to apply at each cold start; see build.rs),
within the artifact budget: at most 8 MB stripped and 3 MB zipped (as Lambda stores it). Prints both
sizes.

Usage: check_bootstrap.py PATH arm64|x86-64
"""
import io
import os
import sys
import zipfile

MACHINES = {"arm64": 183, "x86-64": 62}  # ELF e_machine: EM_AARCH64, EM_X86_64
MAX_BYTES = 8_000_000
MAX_ZIPPED_BYTES = 3_000_000


def main(path, arch):
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"\x7fELF":
        print(f"{path}: not an ELF file")
        return 1
    elf_type = int.from_bytes(data[16:18], "little")
    if elf_type != 2:  # ET_EXEC; a PIE is ET_DYN (3)
        print(f"{path}: ELF type {elf_type}, expected a position-dependent executable (2): is build.rs linking with -no-pie?")
        return 1
    machine = int.from_bytes(data[18:20], "little")
    if machine != MACHINES[arch]:
        print(f"{path}: built for ELF machine {machine}, expected {arch} ({MACHINES[arch]})")
        return 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bootstrap", data)
    zipped = len(buffer.getvalue())
    print(f"{arch} bootstrap: {len(data) / 1e6:.2f} MB, zipped {zipped / 1e6:.2f} MB ({path})")
    if len(data) > MAX_BYTES or zipped > MAX_ZIPPED_BYTES:
        print(f"{arch} bootstrap is over the budget of {MAX_BYTES / 1e6:.0f} MB stripped, {MAX_ZIPPED_BYTES / 1e6:.0f} MB zipped")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in MACHINES or not os.path.exists(sys.argv[1]):
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
