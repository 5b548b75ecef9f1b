//! Runs the local Connect double on its own, for `cargo lambda watch` (see the README):
//!
//!     cargo run --example connect_double                   # listens on 127.0.0.1:9911
//!     cargo run --example connect_double -- 9000           # or on another port
//!     cargo run --example connect_double -- 9911 tests/scenarios/pool.json
//!
//! The optional scenario file says which instances, contacts and users exist (see
//! `tests/support/connect_double/scenario.rs`); without one, any well-formed ID exists and every user is
//! logged in and free. Point the function at it with `AWS_ENDPOINT_URL_CONNECT=http://127.0.0.1:9911`.
//! Stops on Ctrl-C.

#[path = "../tests/support/connect_double/mod.rs"]
mod connect_double;

use connect_double::{ConnectDouble, Scenario};

fn usage(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port = match args.next().map(|p| p.parse::<u16>()) {
        None => 9911,
        Some(Ok(port)) => port,
        Some(Err(e)) => return Err(usage(format!("port: {e}"))),
    };
    let scenario = match args.next() {
        None => Scenario::open(),
        Some(path) => Scenario::from_file(&path).map_err(usage)?,
    };
    let double = ConnectDouble::start_on(scenario, port).await?;
    println!("Connect double listening on {}", double.endpoint());
    tokio::signal::ctrl_c().await?;
    let requests = double.requests();
    println!("served {} request(s)", requests.len());
    Ok(())
}
