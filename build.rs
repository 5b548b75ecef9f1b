//! Links the function as a position-dependent executable on Linux (see README, Performance).
//!
//! A position-independent executable (Rust's default) carries ~15,000 relative relocations that the
//! dynamic loader applies at every start, writing to ~60 pages of read-only-after-relocation data
//! (each a copy-on-write page fault): about 60 µs of a 0.6 ms cold start. Linked with `-no-pie`,
//! the linker resolves them once. What is given up is the randomised load address of the executable
//! itself (libraries, heap and stack stay randomised), as for Go executables, the usual Lambda
//! custom-runtime binaries. Examples (the benchmark's floor among them) are linked the same way, so
//! that the benchmark compares like with like.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
        println!("cargo::rustc-link-arg-examples=-no-pie");
    }
}
