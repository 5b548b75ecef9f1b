//! The seam to Amazon Connect: a trait the handler calls, implemented by the SDK client (and by test
//! doubles), and the mapping of the service's answers to this function's error types.
//!
//! Three operations: MonitorContact, always; DescribeContact with `VERIFY_CONTACT=true`;
//! GetCurrentUserData when the supervisor comes from the pool. Each is one call (the SDK's retries on
//! throttling and 5xx aside), and only the fields the function decides on are kept from the answers:
//! DescribeContact also returns the customer's endpoint and the contact's attributes, which must
//! never reach a log line.

use std::future::Future;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_connect::config::http::HttpResponse;
use aws_sdk_connect::config::{Region, SharedHttpClient};
use aws_sdk_connect::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_connect::types::{ContactInitiationMethod, ContactState, MonitorCapability, UserDataFilters};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use crate::error::{ConfigError, ErrorKind, MonitorError};
use crate::pool::Present;
use crate::request::MonitorRequest;

/// The monitoring contact MonitorContact created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub contact_id: String,
    pub contact_arn: String,
}

/// What DescribeContact reports about a contact, as far as the function decides on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactStatus {
    /// The contact has a DisconnectTimestamp.
    pub ended: bool,
    /// `INBOUND`, `MONITOR`, ...
    pub initiation_method: Option<String>,
    /// `VOICE`, `CHAT`, `TASK`, ...
    pub channel: Option<String>,
}

/// How a call failed, as the service (or the network) reported it.
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

/// The Connect operations the function uses, one call each: retries (on throttling and 5xx) are the
/// implementation's business.
pub trait Connect {
    /// MonitorContact.
    fn start_monitoring(
        &self,
        request: &MonitorRequest,
    ) -> impl Future<Output = Result<Monitoring, ConnectFailure>> + Send;

    /// DescribeContact.
    fn contact_status(
        &self,
        instance_id: &str,
        contact_id: &str,
    ) -> impl Future<Output = Result<ContactStatus, ConnectFailure>> + Send;

    /// GetCurrentUserData filtered on `pool` (at most 100 users): the members logged in to the CCP,
    /// with how many contacts each is monitoring.
    fn present_members(
        &self,
        instance_id: &str,
        pool: &[String],
    ) -> impl Future<Output = Result<Vec<Present>, ConnectFailure>> + Send;
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

    async fn contact_status(&self, instance_id: &str, contact_id: &str) -> Result<ContactStatus, ConnectFailure> {
        let output = self
            .describe_contact()
            .instance_id(instance_id)
            .contact_id(contact_id)
            .send()
            .await
            .map_err(classify)?;
        let contact = output
            .contact
            .ok_or_else(|| ConnectFailure::Unavailable("DescribeContact answered without Contact".into()))?;
        Ok(ContactStatus {
            ended: contact.disconnect_timestamp.is_some(),
            initiation_method: contact.initiation_method.map(|m| m.as_str().to_owned()),
            channel: contact.channel.map(|c| c.as_str().to_owned()),
        })
    }

    /// One page of up to 100 users covers the whole pool (at most 100 members), so `NextToken` is
    /// never followed: a member missing from the answer counts as logged out, the safe reading.
    async fn present_members(&self, instance_id: &str, pool: &[String]) -> Result<Vec<Present>, ConnectFailure> {
        let output = self
            .get_current_user_data()
            .instance_id(instance_id)
            .filters(UserDataFilters::builder().set_agents(Some(pool.to_vec())).build())
            .max_results(100)
            .send()
            .await
            .map_err(classify)?;
        Ok(output
            .user_data_list
            .unwrap_or_default()
            .into_iter()
            .filter_map(|data| {
                let user_id = data.user?.id?;
                let monitoring = data
                    .contacts
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| c.initiation_method == Some(ContactInitiationMethod::Monitor))
                    .filter(|c| !c.agent_contact_state.as_ref().is_some_and(finished))
                    .count();
                Some(Present {
                    user_id,
                    monitoring: u32::try_from(monitoring).unwrap_or(u32::MAX),
                })
            })
            .collect())
    }
}

/// A contact in one of these states no longer occupies the user.
fn finished(state: &ContactState) -> bool {
    matches!(
        state,
        ContactState::Ended | ContactState::Missed | ContactState::Rejected | ContactState::Error
    )
}

/// The failure an SDK error stands for, by the service's error code, which is the same for the three
/// operations; codes outside their models (credentials refused, other throttling codes, ...) go by
/// the HTTP status.
fn classify<E>(error: SdkError<E, HttpResponse>) -> ConnectFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    let service = match error {
        SdkError::ServiceError(context) => context.into_err(),
        SdkError::TimeoutError(_) => return ConnectFailure::Unavailable("the call to Connect timed out".into()),
        other => return ConnectFailure::Unavailable(format!("{}", DisplayErrorContext(&other))),
    };
    let message = service.message().unwrap_or("no message").to_owned();
    match service.code() {
        Some("InvalidRequestException" | "InvalidParameterException") => ConnectFailure::InvalidRequest(message),
        Some("IdempotencyException") => ConnectFailure::Idempotency(message),
        Some("AccessDeniedException") => ConnectFailure::AccessDenied(message),
        Some("ResourceNotFoundException") => ConnectFailure::NotFound(message),
        Some("ServiceQuotaExceededException") => ConnectFailure::QuotaExceeded(message),
        Some("ThrottlingException") => ConnectFailure::Throttling(message),
        Some("InternalServiceException") => ConnectFailure::Unavailable(message),
        other => {
            let message = format!("{}: {message}", other.unwrap_or("an unknown error"));
            match status.unwrap_or(500) {
                403 | 401 => ConnectFailure::AccessDenied(message),
                429 => ConnectFailure::Throttling(message),
                400..=499 => ConnectFailure::InvalidRequest(message),
                _ => ConnectFailure::Unavailable(message),
            }
        }
    }
}

/// The call that failed, for [`ConnectFailure::explain`].
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    DescribeContact {
        instance_id: &'a str,
        contact_id: &'a str,
    },
    GetCurrentUserData {
        instance_id: &'a str,
    },
    /// `pooled`: the supervisor was picked from the pool.
    MonitorContact {
        request: &'a MonitorRequest,
        pooled: bool,
    },
}

impl Call<'_> {
    fn action(&self) -> &'static str {
        match self {
            Call::DescribeContact { .. } => "DescribeContact",
            Call::GetCurrentUserData { .. } => "GetCurrentUserData",
            Call::MonitorContact { .. } => "MonitorContact",
        }
    }

    fn instance_id(&self) -> &str {
        match self {
            Call::DescribeContact { instance_id, .. } | Call::GetCurrentUserData { instance_id } => instance_id,
            Call::MonitorContact { request, .. } => &request.instance_id,
        }
    }
}

impl ConnectFailure {
    /// This function's error for the failure of `call`, with what it means and what to do.
    pub fn explain(self, call: Call<'_>) -> MonitorError {
        let action = call.action();
        let instance = call.instance_id();
        match (self, call) {
            (ConnectFailure::InvalidRequest(m), Call::MonitorContact { request, .. }) => {
                MonitorError::invalid(format!(
                    "Connect rejected the request as invalid ({m}); check that contact {} is a live voice or chat contact",
                    request.contact_id
                ))
            }
            (ConnectFailure::InvalidRequest(m), _) => {
                MonitorError::invalid(format!("Connect rejected {action} as invalid ({m})"))
            }
            (ConnectFailure::Idempotency(m), Call::MonitorContact { request, .. }) => MonitorError::new(
                ErrorKind::IdempotencyConflict,
                format!(
                    "ClientToken {} was already used for a different request ({m}); send a new EventId for a new request",
                    request.client_token
                ),
            ),
            (ConnectFailure::Idempotency(m), _) => MonitorError::new(
                ErrorKind::IdempotencyConflict,
                format!("Connect answered {action} with an idempotency conflict ({m})"),
            ),
            (ConnectFailure::AccessDenied(m), _) => MonitorError::new(
                ErrorKind::AccessDenied,
                format!(
                    "Connect refused access ({m}); the function's role needs connect:{action} on instance {instance}"
                ),
            ),
            (ConnectFailure::NotFound(m), Call::MonitorContact { request, .. }) => MonitorError::new(
                ErrorKind::ContactNotFound,
                format!(
                    "contact {}, user {} or the instance was not found ({m}); the contact may have ended",
                    request.contact_id, request.user_id
                ),
            ),
            (ConnectFailure::NotFound(m), Call::DescribeContact { contact_id, .. }) => MonitorError::new(
                ErrorKind::ContactNotFound,
                format!("contact {contact_id} or instance {instance} was not found ({m})"),
            ),
            (ConnectFailure::NotFound(m), Call::GetCurrentUserData { .. }) => MonitorError::new(
                ErrorKind::ContactNotFound,
                format!("instance {instance} was not found ({m})"),
            ),
            (ConnectFailure::QuotaExceeded(m), Call::MonitorContact { request, pooled: false }) => MonitorError::new(
                ErrorKind::SupervisorUnavailable,
                format!(
                    "supervisor {} cannot monitor now ({m}): they are not logged in to the CCP or are at their monitoring limit; retry when they are available or choose another supervisor",
                    request.user_id
                ),
            ),
            (ConnectFailure::QuotaExceeded(m), Call::MonitorContact { request, pooled: true }) => MonitorError::new(
                ErrorKind::SupervisorUnavailable,
                format!(
                    "supervisor {} from the pool cannot monitor now ({m}): they logged out or reached their monitoring limit since GetCurrentUserData answered; retrying is safe: the next delivery ranks the pool again with the same ClientToken",
                    request.user_id
                ),
            ),
            (ConnectFailure::QuotaExceeded(m) | ConnectFailure::Throttling(m), _) => MonitorError::new(
                ErrorKind::Throttled,
                format!(
                    "Connect throttled {action} after retries ({m}); the Connect API quota is shared by all Connect API calls in the account and region"
                ),
            ),
            (ConnectFailure::Unavailable(m), _) => MonitorError::new(
                ErrorKind::ConnectUnavailable,
                format!("Connect is unavailable ({action}: {m}); retry later"),
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
        let request = request();
        let kinds = |call: Call<'_>| {
            [
                ConnectFailure::InvalidRequest("m".into()),
                ConnectFailure::Idempotency("m".into()),
                ConnectFailure::AccessDenied("m".into()),
                ConnectFailure::NotFound("m".into()),
                ConnectFailure::QuotaExceeded("m".into()),
                ConnectFailure::Throttling("m".into()),
                ConnectFailure::Unavailable("m".into()),
            ]
            .map(|failure| {
                let e = failure.explain(call);
                assert!(e.message.contains("m)"), "{e}");
                e.kind
            })
        };
        use ErrorKind::*;
        let monitor = [
            InvalidEvent,
            IdempotencyConflict,
            AccessDenied,
            ContactNotFound,
            SupervisorUnavailable,
            Throttled,
            ConnectUnavailable,
        ];
        for pooled in [false, true] {
            assert_eq!(
                kinds(Call::MonitorContact {
                    request: &request,
                    pooled
                }),
                monitor
            );
        }
        // The two read operations have no supervisor to blame: a quota answer is throttling.
        let read = [
            InvalidEvent,
            IdempotencyConflict,
            AccessDenied,
            ContactNotFound,
            Throttled,
            Throttled,
            ConnectUnavailable,
        ];
        assert_eq!(
            kinds(Call::DescribeContact {
                instance_id: "i",
                contact_id: "c"
            }),
            read
        );
        assert_eq!(kinds(Call::GetCurrentUserData { instance_id: "i" }), read);
    }

    #[test]
    fn messages_say_what_to_do() {
        let request = request();
        let named = Call::MonitorContact {
            request: &request,
            pooled: false,
        };
        let e = ConnectFailure::QuotaExceeded("m".into()).explain(named);
        assert!(e.message.contains("not logged in to the CCP") && e.message.contains("monitoring limit"));
        let pooled = Call::MonitorContact {
            request: &request,
            pooled: true,
        };
        let e = ConnectFailure::QuotaExceeded("m".into()).explain(pooled);
        assert!(
            e.message.contains("from the pool") && e.message.contains("same ClientToken"),
            "{e}"
        );
        let e = ConnectFailure::AccessDenied("m".into()).explain(Call::GetCurrentUserData { instance_id: "i" });
        assert!(e.message.contains("connect:GetCurrentUserData on instance i"), "{e}");
        let e = ConnectFailure::AccessDenied("m".into()).explain(Call::DescribeContact {
            instance_id: "i",
            contact_id: "c",
        });
        assert!(e.message.contains("connect:DescribeContact on instance i"), "{e}");
    }
}
