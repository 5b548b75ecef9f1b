#!/usr/bin/env python3
"""Checks that a built bootstrap is a Linux ELF executable for the expected architecture, linked
position-independent (a PIE: ELF type ET_DYN with a program interpreter, so that the kernel loads the
executable image at a random address; see docs/decisions.md), within the artifact budget: at
most 10 MB stripped and 4 MB zipped (as Lambda stores it; issue 18 set this budget for the binary with
the DynamoDB client and the bundled time zones). Prints both sizes.

Usage: check_bootstrap.py PATH arm64|x86-64
"""
import io
import os
import sys
import zipfile

MACHINES = {"arm64": 183, "x86-64": 62}  # ELF e_machine: EM_AARCH64, EM_X86_64
ET_DYN = 3  # a PIE (or a shared library: those have no program interpreter)
PT_INTERP = 3
MAX_BYTES = 10_000_000
MAX_ZIPPED_BYTES = 4_000_000


def has_interpreter(data):
    """Whether the ELF64 program header table has a PT_INTERP entry (an executable, not a library)."""
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for index in range(phnum):
        start = phoff + index * phentsize
        if int.from_bytes(data[start:start + 4], "little") == PT_INTERP:
            return True
    return False


def main(path, arch):
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"\x7fELF":
        print(f"{path}: not an ELF file")
        return 1
    if data[4] != 2 or data[5] != 1:
        print(f"{path}: not a 64-bit little-endian ELF file")
        return 1
    elf_type = int.from_bytes(data[16:18], "little")
    if elf_type != ET_DYN or not has_interpreter(data):
        kind = "position-dependent (ET_EXEC)" if elf_type == 2 else f"ELF type {elf_type} without a program interpreter"
        print(f"{path}: {kind}, expected a position-independent executable (ET_DYN with PT_INTERP): is something linking with -no-pie?")
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
