#!/usr/bin/env python3
"""Checks that a built bootstrap is a Linux ELF executable for the expected architecture, and prints
its size (stripped) and its zipped size, as Lambda stores it.

Usage: check_bootstrap.py PATH arm64|x86-64
"""
import io
import os
import sys
import zipfile

MACHINES = {"arm64": 183, "x86-64": 62}  # ELF e_machine: EM_AARCH64, EM_X86_64


def main(path, arch):
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"\x7fELF":
        print(f"{path}: not an ELF file")
        return 1
    machine = int.from_bytes(data[18:20], "little")
    if machine != MACHINES[arch]:
        print(f"{path}: built for ELF machine {machine}, expected {arch} ({MACHINES[arch]})")
        return 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bootstrap", data)
    print(f"{arch} bootstrap: {len(data) / 1e6:.2f} MB, zipped {len(buffer.getvalue()) / 1e6:.2f} MB ({path})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in MACHINES or not os.path.exists(sys.argv[1]):
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
