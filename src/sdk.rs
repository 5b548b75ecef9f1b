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

/// How long one attempt of a Connect call may take. Connect answers in tens of milliseconds; an
/// attempt stalled on a dead connection is cut off and retried (within the invocation's budget)
/// instead of eating all of it. Three attempts with their back-off fit in a contact flow's 8 s.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Attempts per call unless `AWS_MAX_ATTEMPTS` says otherwise (the SDK's own default).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

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

/// How calls are retried: `AWS_RETRY_MODE` (`adaptive`, the default here, or `standard`) and
/// `AWS_MAX_ATTEMPTS` (1 to 10, default 3), the SDK's own variables.
///
/// Adaptive mode is standard mode (jittered exponential back-off on throttling and 5xx) plus a
/// client-side rate limiter that slows this client down when Connect throttles it, so each
/// execution environment backs off on its own instead of all of them retrying in step against an
/// account-wide quota.
pub fn retry_config(lookup: impl Fn(&str) -> Option<String>) -> Result<RetryConfig, ConfigError> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    const MODE: &str = "AWS_RETRY_MODE";
    const ATTEMPTS: &str = "AWS_MAX_ATTEMPTS";
    let config = match set(MODE).map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        None | Some("adaptive") => RetryConfig::adaptive(),
        Some("standard") => RetryConfig::standard(),
        Some(_) => {
            return Err(ConfigError {
                variable: MODE,
                message: format!("{MODE} must be adaptive or standard"),
            });
        }
    };
    let attempts = match set(ATTEMPTS) {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => {
                return Err(ConfigError {
                    variable: ATTEMPTS,
                    message: format!("{ATTEMPTS} must be a whole number from 1 to 10"),
                });
            }
        },
    };
    Ok(config.with_max_attempts(attempts))
}

/// The time-outs of every call: one per attempt, and one for establishing a connection. The
/// invocation's own deadline bounds each call as a whole (see `pipeline`).
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// Loads the SDK configuration with the given HTTP client, retry and time-out configuration.
///
/// aws-config's default chains look at the environment first: for credentials, `AWS_ACCESS_KEY_ID`
/// and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`); for the region, `AWS_REGION`. Lambda
/// always sets both, so when they are set the environment's answers are given directly and the
/// chains (profile files, web identity, container and IMDS providers) are never built: the same
/// result, about 0.2 ms sooner. Anywhere else (a laptop with a profile) the full chains apply.
pub async fn load(http: SharedHttpClient, lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry_config(&lookup)?)
        .timeout_config(timeout_config());
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    Ok(loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::retry::RetryMode;

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
        let sdk = load(http, lookup(&vars)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-2"));
        // The provider reads the process environment, which does not hold the test's values: what
        // matters is that it is the environment provider, not the default chain.
        let provider = sdk.credentials_provider().map(|p| format!("{p:?}")).unwrap_or_default();
        assert!(
            provider.contains("EnvironmentVariableCredentialsProvider"),
            "{provider}"
        );
        let timeouts = sdk.timeout_config().cloned().unwrap_or_else(TimeoutConfig::disabled);
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        let retry = sdk.retry_config().cloned().unwrap_or_else(RetryConfig::disabled);
        assert_eq!((retry.mode(), retry.max_attempts()), (RetryMode::Adaptive, 3));
    }

    #[test]
    fn retries_follow_the_sdk_variables() {
        let retry = retry_config(lookup(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((retry.mode(), retry.max_attempts()), (RetryMode::Adaptive, 3));
        let retry = retry_config(lookup(&[("AWS_RETRY_MODE", "Standard"), ("AWS_MAX_ATTEMPTS", "5")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((retry.mode(), retry.max_attempts()), (RetryMode::Standard, 5));
        for (name, value) in [
            ("AWS_RETRY_MODE", "legacy"),
            ("AWS_MAX_ATTEMPTS", "0"),
            ("AWS_MAX_ATTEMPTS", "11"),
            ("AWS_MAX_ATTEMPTS", "three"),
        ] {
            match retry_config(lookup(&[(name, value)])) {
                Err(e) => assert!(e.variable == name && e.message.contains(name), "{e}"),
                Ok(r) => panic!("{name}={value} accepted: {r:?}"),
            }
        }
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
