//! The seam to Amazon Connect: a trait the handler calls, implemented by the SDK client (and by test
//! doubles), and the mapping of the service's answers to this function's error types.

use std::future::Future;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_connect::config::http::HttpResponse;
use aws_sdk_connect::config::{Region, SharedHttpClient};
use aws_sdk_connect::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_connect::operation::monitor_contact::MonitorContactError;
use aws_sdk_connect::types::MonitorCapability;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use crate::error::{ConfigError, ErrorKind, MonitorError};
use crate::request::MonitorRequest;

/// The monitoring contact MonitorContact created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub contact_id: String,
    pub contact_arn: String,
}

/// How a MonitorContact call failed, as the service (or the network) reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    InvalidRequest(String),
    Idempotency(String),
    AccessDenied(String),
    NotFound(String),
    QuotaExceeded(String),
    Throttling(String),
    /// 5xx, time-outs, connection failures, unreadable answers.
    Unavailable(String),
}

/// Starts monitoring. One call: retries (on throttling and 5xx) are the implementation's business.
pub trait Connect {
    fn start_monitoring(
        &self,
        request: &MonitorRequest,
    ) -> impl Future<Output = Result<Monitoring, ConnectFailure>> + Send;
}

/// The roots that Amazon Web Services endpoints chain to (Amazon Root CA 1-4 and the Starfield Services
/// root that cross-signs them), from the Amazon Trust Services repository.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

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

/// Loads the SDK configuration with the given HTTP client.
///
/// aws-config's default chains look at the environment first: for credentials, `AWS_ACCESS_KEY_ID`
/// and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`); for the region, `AWS_REGION`. Lambda
/// always sets both, so when they are set the environment's answers are given directly and the
/// chains (profile files, web identity, container and IMDS providers) are never built: the same
/// result, about 0.2 ms sooner. Anywhere else (a laptop with a profile) the full chains apply.
pub async fn load_sdk_config(http: SharedHttpClient, lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    loader.load().await
}

/// Builds the Connect client from the loaded SDK configuration (region, credentials, endpoint
/// overrides such as `AWS_ENDPOINT_URL_CONNECT`, and the retry mode: standard, 3 attempts, unless
/// `AWS_RETRY_MODE` / `AWS_MAX_ATTEMPTS` say otherwise). Built once at init.
pub fn client(sdk: &SdkConfig) -> aws_sdk_connect::Client {
    aws_sdk_connect::Client::new(sdk)
}

impl Connect for aws_sdk_connect::Client {
    async fn start_monitoring(&self, request: &MonitorRequest) -> Result<Monitoring, ConnectFailure> {
        let capabilities = request
            .capabilities
            .names()
            .iter()
            .map(|name| MonitorCapability::from(*name))
            .collect();
        let output = self
            .monitor_contact()
            .instance_id(&request.instance_id)
            .contact_id(&request.contact_id)
            .user_id(&request.user_id)
            .set_allowed_monitor_capabilities(Some(capabilities))
            .client_token(&request.client_token)
            .send()
            .await
            .map_err(classify)?;
        match (output.contact_id, output.contact_arn) {
            (Some(contact_id), Some(contact_arn)) => Ok(Monitoring {
                contact_id,
                contact_arn,
            }),
            _ => Err(ConnectFailure::Unavailable(
                "Connect answered without ContactId and ContactArn".into(),
            )),
        }
    }
}

fn classify(error: SdkError<MonitorContactError, HttpResponse>) -> ConnectFailure {
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    let service = match error {
        SdkError::ServiceError(context) => context.into_err(),
        SdkError::TimeoutError(_) => return ConnectFailure::Unavailable("the call to Connect timed out".into()),
        other => return ConnectFailure::Unavailable(format!("{}", DisplayErrorContext(&other))),
    };
    let message = service.message().unwrap_or("no message").to_owned();
    match service {
        MonitorContactError::InvalidRequestException(_) => ConnectFailure::InvalidRequest(message),
        MonitorContactError::IdempotencyException(_) => ConnectFailure::Idempotency(message),
        MonitorContactError::AccessDeniedException(_) => ConnectFailure::AccessDenied(message),
        MonitorContactError::ResourceNotFoundException(_) => ConnectFailure::NotFound(message),
        MonitorContactError::ServiceQuotaExceededException(_) => ConnectFailure::QuotaExceeded(message),
        MonitorContactError::ThrottlingException(_) => ConnectFailure::Throttling(message),
        MonitorContactError::InternalServiceException(_) => ConnectFailure::Unavailable(message),
        other => {
            // Errors outside the operation's model: credentials refused, other throttling codes, ...
            let code = other.code().unwrap_or("an unknown error");
            let message = format!("{code}: {message}");
            match status.unwrap_or(500) {
                403 | 401 => ConnectFailure::AccessDenied(message),
                429 => ConnectFailure::Throttling(message),
                400..=499 => ConnectFailure::InvalidRequest(message),
                _ => ConnectFailure::Unavailable(message),
            }
        }
    }
}

impl ConnectFailure {
    /// This function's error for the failure, with what it means for this request and what to do.
    pub fn explain(self, request: &MonitorRequest) -> MonitorError {
        let (user, contact) = (&request.user_id, &request.contact_id);
        match self {
            ConnectFailure::InvalidRequest(m) => MonitorError::invalid(format!(
                "Connect rejected the request as invalid ({m}); check that contact {contact} is a live voice or chat contact"
            )),
            ConnectFailure::Idempotency(m) => MonitorError::new(
                ErrorKind::IdempotencyConflict,
                format!(
                    "ClientToken {} was already used for a different request ({m}); send a new EventId for a new request",
                    request.client_token
                ),
            ),
            ConnectFailure::AccessDenied(m) => MonitorError::new(
                ErrorKind::AccessDenied,
                format!(
                    "Connect refused access ({m}); the function's role needs connect:MonitorContact on instance {}",
                    request.instance_id
                ),
            ),
            ConnectFailure::NotFound(m) => MonitorError::new(
                ErrorKind::ContactNotFound,
                format!(
                    "contact {contact}, user {user} or the instance was not found ({m}); the contact may have ended"
                ),
            ),
            ConnectFailure::QuotaExceeded(m) => MonitorError::new(
                ErrorKind::SupervisorUnavailable,
                format!(
                    "supervisor {user} cannot monitor now ({m}): they are not logged in to the CCP or are at their monitoring limit; retry when they are available or choose another supervisor"
                ),
            ),
            ConnectFailure::Throttling(m) => MonitorError::new(
                ErrorKind::Throttled,
                format!(
                    "Connect throttled the request after retries ({m}); the Connect API quota is shared by all Connect API calls in the account and region"
                ),
            ),
            ConnectFailure::Unavailable(m) => MonitorError::new(
                ErrorKind::ConnectUnavailable,
                format!("Connect is unavailable ({m}); retry later"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Capabilities;

    fn request() -> MonitorRequest {
        MonitorRequest {
            instance_id: "i".into(),
            contact_id: "c".into(),
            user_id: "u".into(),
            capabilities: Capabilities::SilentMonitor,
            client_token: "t".into(),
        }
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
        let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        let http = http_client(false).ok();
        let sdk = load_sdk_config(http.unwrap_or_else(|| panic!("http client")), lookup).await;
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
    fn system_roots_only_when_asked_for() {
        assert!(!system_roots_requested(|_| None));
        assert!(!system_roots_requested(|_| Some(String::new())));
        assert!(system_roots_requested(
            |n| (n == "SSL_CERT_FILE").then(|| "/etc/pki/ca.pem".into())
        ));
        assert!(system_roots_requested(
            |n| (n == "SSL_CERT_DIR").then(|| "/etc/ssl/certs".into())
        ));
    }

    #[test]
    fn every_failure_maps_to_its_error_type() {
        let cases = [
            (ConnectFailure::InvalidRequest("m".into()), ErrorKind::InvalidEvent),
            (ConnectFailure::Idempotency("m".into()), ErrorKind::IdempotencyConflict),
            (ConnectFailure::AccessDenied("m".into()), ErrorKind::AccessDenied),
            (ConnectFailure::NotFound("m".into()), ErrorKind::ContactNotFound),
            (
                ConnectFailure::QuotaExceeded("m".into()),
                ErrorKind::SupervisorUnavailable,
            ),
            (ConnectFailure::Throttling("m".into()), ErrorKind::Throttled),
            (ConnectFailure::Unavailable("m".into()), ErrorKind::ConnectUnavailable),
        ];
        for (failure, kind) in cases {
            let e = failure.explain(&request());
            assert_eq!(e.kind, kind);
            assert!(e.message.contains("(m)"), "{e}");
        }
        let e = ConnectFailure::QuotaExceeded("m".into()).explain(&request());
        assert!(e.message.contains("not logged in to the CCP") && e.message.contains("monitoring limit"));
    }
}
