//! Setting up the AWS SDK: the HTTPS client (TLS roots), credentials and region, and how each call
//! is retried and timed out. Built once at init; the Connect seam (`connect`) uses what this builds.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_connect::config::{Region, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use crate::error::ConfigError;

/// The roots that Amazon Web Services endpoints chain to (Amazon Root CA 1-4 and the Starfield Services
/// root that cross-signs them), from the Amazon Trust Services repository.
pub(crate) const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// How long establishing a connection may take: no request has been sent yet, so a connection that
/// does not come up in time is retried (`retry`) with no risk of a second monitor.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The HTTPS client: rustls with ring, trusting the Amazon Trust Services roots.
///
/// The SDK's default client loads every certificate of the system's store when it is built (about
/// 1.2 ms and 300 file reads on a Debian image) and links aws-lc. AWS endpoints all chain to the
/// Amazon Trust Services roots, so those are what the function trusts. Where a TLS-inspecting proxy
/// needs another root, set `SSL_CERT_FILE` (or `SSL_CERT_DIR`): the system's roots are then trusted
/// as well, read from there.
pub fn http_client(system_roots: bool) -> Result<SharedHttpClient, ConfigError> {
    let trust = TrustStore::empty()
        .with_native_roots(system_roots)
        .with_pem_certificate(AMAZON_TRUST_SERVICES);
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| ConfigError {
            variable: "SSL_CERT_FILE",
            message: format!("cannot set up TLS: {e}"),
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(tls)
        .build_https())
}

/// Whether the system's root certificates should be trusted too (see [`http_client`]).
pub fn system_roots_requested(lookup: impl Fn(&str) -> Option<String>) -> bool {
    ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| lookup(name).is_some_and(|v| !v.is_empty()))
}

/// How the SDK itself retries: not at all. The function retries each call itself, within the
/// invocation's deadline and under its per-API budget (see `retry` and `budget`).
pub fn retry_config() -> RetryConfig {
    RetryConfig::disabled()
}

/// The SDK's time-outs: only the one for establishing a connection. An attempt may take as long as
/// the invocation allows: a slow answer is not a failure, and an attempt cut off by a time-out may
/// still have been carried out by Connect (see `retry`).
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build()
}

/// Loads the SDK configuration with the given HTTP client, no retries and the connection time-out
/// (set here so that the SDK does not read its own retry variables; the Connect client sets them
/// again, see `connect::ConnectApi::new`).
///
/// aws-config's default chains look at the environment first: for credentials, `AWS_ACCESS_KEY_ID`
/// and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`); for the region, `AWS_REGION`. Lambda
/// always sets both, so when they are set the environment's answers are given directly and the
/// chains (profile files, web identity, container and IMDS providers) are never built: the same
/// result, about 0.2 ms sooner. Anywhere else (a laptop with a profile) the full chains apply.
pub async fn load(http: SharedHttpClient, lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_bundled_roots_are_the_amazon_trust_services_roots() {
        let text = String::from_utf8_lossy(AMAZON_TRUST_SERVICES);
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert!(http_client(false).is_ok());
    }

    #[tokio::test]
    async fn the_environment_answers_first() {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "eu-west-2"),
        ];
        let http = http_client(false).unwrap_or_else(|e| panic!("{e}"));
        let sdk = load(http, lookup(&vars)).await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-2"));
        // The provider reads the process environment, which does not hold the test's values: what
        // matters is that it is the environment provider, not the default chain.
        let provider = sdk.credentials_provider().map(|p| format!("{p:?}")).unwrap_or_default();
        assert!(
            provider.contains("EnvironmentVariableCredentialsProvider"),
            "{provider}"
        );
    }

    #[test]
    fn the_sdk_neither_retries_nor_cuts_an_attempt_short() {
        assert_eq!(retry_config().max_attempts(), 1);
        let timeouts = timeout_config();
        assert_eq!(timeouts.operation_attempt_timeout(), None);
        assert_eq!(timeouts.operation_timeout(), None);
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
    }

    #[test]
    fn system_roots_only_when_asked_for() {
        assert!(!system_roots_requested(|_| None));
        assert!(!system_roots_requested(|_| Some(String::new())));
        assert!(system_roots_requested(
            |n| (n == "SSL_CERT_FILE").then(|| "/etc/pki/ca.pem".into())
        ));
    }
}
