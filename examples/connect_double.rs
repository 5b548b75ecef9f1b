//! Runs the local Connect double on its own, for `cargo lambda watch` (see the README):
//!
//!     cargo run --example connect_double            # listens on 127.0.0.1:9911
//!     cargo run --example connect_double -- 9000    # or on another port
//!
//! Point the function at it with `AWS_ENDPOINT_URL_CONNECT=http://127.0.0.1:9911`. Stops on Ctrl-C.

#[path = "../tests/support/connect_double.rs"]
mod connect_double;

use connect_double::{ConnectDouble, Scenario};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        None => 9911,
        Some(Ok(port)) => port,
        Some(Err(e)) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("port: {e}"),
            ));
        }
    };
    let double = ConnectDouble::start_on(Scenario::open(), port).await?;
    println!(
        "Connect double listening on {} (any instance, contact and user exists)",
        double.endpoint()
    );
    tokio::signal::ctrl_c().await?;
    let requests = double.requests();
    println!("served {} request(s)", requests.len());
    Ok(())
}
