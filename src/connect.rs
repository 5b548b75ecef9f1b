//! The seam to Amazon Connect: the trait the pipeline calls, its implementation over the SDK client
//! (and test doubles'), and the mapping of the service's answers to this function's error types.
//!
//! Three operations: MonitorContact, always; DescribeContact for the live check and after some
//! MonitorContact failures; GetCurrentUserData when a supervisor comes from a pool. Each method is one
//! attempt (the pipeline retries, see `retry`), and only the fields the function decides on
//! are kept from the answers: DescribeContact also returns the customer's endpoint and the contact's
//! attributes, which must never reach a log line. The SDK itself is set up in `sdk`.
//!
//! The calls' data (what the function asks and what it keeps of the answers) is here too, beside
//! the trait that carries it: the pipeline and the seam share these types.

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_connect::config::http::HttpResponse;
use aws_sdk_connect::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_connect::types::{ContactInitiationMethod, ContactState, MonitorCapability, UserDataFilters};

use crate::error::{ErrorKind, MonitorError};
use crate::identifiers::Capabilities;

/// The three Connect operations the function uses, named as in Connect's API (and the metrics).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumIter, strum::EnumCount,
)]
pub enum Operation {
    /// DescribeContact: the live check (`VERIFY_CONTACT`), or after a MonitorContact failure.
    DescribeContact,
    /// GetCurrentUserData: who of the pools is logged in and how busy.
    GetCurrentUserData,
    /// MonitorContact: the monitor itself.
    MonitorContact,
}

impl Operation {
    /// The operation's name in Connect's API (and in metrics).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Its position among the operations (the declaration order), for per-operation counters of
    /// [`Operation::COUNT`] entries.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The MonitorContact call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRequest {
    /// Connect's InstanceId.
    pub instance_id: String,
    /// The contact to monitor.
    pub contact_id: String,
    /// The supervisor who monitors.
    pub user_id: String,
    /// AllowedMonitorCapabilities.
    pub capabilities: Capabilities,
    /// The ClientToken: the same for every retry of the same monitor.
    pub client_token: String,
}

/// The monitoring contact MonitorContact created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    /// The monitoring contact's ID.
    pub contact_id: String,
    /// The monitoring contact's ARN.
    pub contact_arn: String,
}

/// What DescribeContact reports about a contact, as far as the function decides on it (its answer
/// also holds the customer's endpoint and the contact's attributes, which are never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactStatus {
    /// The contact has a DisconnectTimestamp.
    pub ended: bool,
    /// `INBOUND`, `MONITOR`, ...
    pub initiation_method: Option<String>,
    /// `VOICE`, `CHAT`, `TASK`, ...
    pub channel: Option<String>,
}

/// A user GetCurrentUserData reports as logged in to the CCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    /// The user's ID.
    pub user_id: String,
    /// Contacts the user is monitoring now (their contacts with initiation method MONITOR that have
    /// not ended); contacts they handle as an agent do not count.
    pub monitoring: u32,
}

/// How a call failed, as the service (or the network) reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// InvalidRequestException (or InvalidParameterException, or another 4xx).
    InvalidRequest(String),
    /// IdempotencyException: the ClientToken was used for other parameters.
    Idempotency(String),
    /// AccessDeniedException, or credentials Connect refused.
    AccessDenied(String),
    /// ResourceNotFoundException.
    NotFound(String),
    /// ServiceQuotaExceededException (MonitorContact: the supervisor is not logged in or at their limit).
    QuotaExceeded(String),
    /// ThrottlingException (or HTTP 429).
    Throttling(String),
    /// 5xx, time-outs, connection failures, unreadable answers.
    Unavailable(String),
}

/// The Connect operations the function uses, one attempt each: the pipeline retries (see `retry`).
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

    /// GetCurrentUserData filtered on `users` (at most 100): those logged in to the CCP, with how
    /// many contacts each is monitoring.
    fn present_members(
        &self,
        instance_id: &str,
        users: &[String],
    ) -> impl Future<Output = Result<Vec<Present>, ConnectFailure>> + Send;
}

/// The Connect client the function uses: the SDK's, making one attempt per call (see `retry`).
#[derive(Debug, Clone)]
pub struct ConnectApi {
    client: aws_sdk_connect::Client,
}

impl ConnectApi {
    /// Builds the client from the loaded SDK configuration (region, credentials, endpoint overrides
    /// such as `AWS_ENDPOINT_URL_CONNECT`), with the SDK's retries off and no time-out on an attempt
    /// but the connection's (see `sdk`), whatever the configuration says. Built once at init.
    pub fn new(sdk: &SdkConfig) -> ConnectApi {
        let config = aws_sdk_connect::config::Builder::from(sdk)
            .retry_config(crate::sdk::retry_config())
            .timeout_config(crate::sdk::timeout_config())
            .build();
        ConnectApi {
            client: aws_sdk_connect::Client::from_conf(config),
        }
    }
}

impl Connect for ConnectApi {
    async fn start_monitoring(&self, request: &MonitorRequest) -> Result<Monitoring, ConnectFailure> {
        let capabilities = request
            .capabilities
            .names()
            .iter()
            .map(|name| MonitorCapability::from(*name))
            .collect();
        let output = self
            .client
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
            .client
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

    /// One page of up to 100 users covers every pool (at most 100 users in all), so `NextToken` is
    /// never followed: a user missing from the answer counts as logged out, the safe reading.
    async fn present_members(&self, instance_id: &str, users: &[String]) -> Result<Vec<Present>, ConnectFailure> {
        let output = self
            .client
            .get_current_user_data()
            .instance_id(instance_id)
            .filters(UserDataFilters::builder().set_agents(Some(users.to_vec())).build())
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
    /// DescribeContact of a contact.
    DescribeContact {
        /// The instance.
        instance_id: &'a str,
        /// The contact.
        contact_id: &'a str,
    },
    /// GetCurrentUserData for the pools.
    GetCurrentUserData {
        /// The instance.
        instance_id: &'a str,
    },
    /// MonitorContact.
    MonitorContact {
        /// What was asked.
        request: &'a MonitorRequest,
        /// The supervisor was picked from a pool.
        pooled: bool,
        /// DescribeContact showed the contact live (before the call, or after its failure): a
        /// resource Connect did not find is then the supervisor.
        contact_live: bool,
    },
}

impl Call<'_> {
    /// The API operation this call is.
    pub fn operation(&self) -> Operation {
        match self {
            Call::DescribeContact { .. } => Operation::DescribeContact,
            Call::GetCurrentUserData { .. } => Operation::GetCurrentUserData,
            Call::MonitorContact { .. } => Operation::MonitorContact,
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
        let action = call.operation().as_str();
        let instance = call.instance_id();
        match self {
            ConnectFailure::InvalidRequest(m) => invalid(&m, call),
            ConnectFailure::Idempotency(m) => idempotency(&m, call),
            ConnectFailure::AccessDenied(m) => MonitorError::new(
                ErrorKind::AccessDenied,
                format!(
                    "Connect refused access ({m}); the function's role needs connect:{action} on instance {instance}"
                ),
            ),
            ConnectFailure::NotFound(m) => not_found(&m, call),
            ConnectFailure::QuotaExceeded(m) => match call {
                Call::MonitorContact { request, pooled, .. } => unavailable_supervisor(&m, request, pooled),
                _ => throttled(&m, action),
            },
            ConnectFailure::Throttling(m) => throttled(&m, action),
            ConnectFailure::Unavailable(m) => MonitorError::new(
                ErrorKind::ConnectUnavailable,
                format!("Connect is unavailable ({action}: {m}); retry later"),
            ),
        }
    }
}

/// InvalidRequestException: for MonitorContact, what to check depends on whether the contact is live.
fn invalid(m: &str, call: Call<'_>) -> MonitorError {
    match call {
        Call::MonitorContact {
            request,
            contact_live: true,
            ..
        } => MonitorError::invalid(format!(
            "Connect rejected the request as invalid ({m}) although contact {} is live: check that user {} may monitor it (security profile) and the capabilities asked for",
            request.contact_id, request.user_id
        )),
        Call::MonitorContact { request, .. } => MonitorError::invalid(format!(
            "Connect rejected the request as invalid ({m}); check that contact {} is a live voice or chat contact",
            request.contact_id
        )),
        _ => MonitorError::invalid(format!(
            "Connect rejected {} as invalid ({m})",
            call.operation().as_str()
        )),
    }
}

/// IdempotencyException: the ClientToken stood for another request.
fn idempotency(m: &str, call: Call<'_>) -> MonitorError {
    let message = match call {
        Call::MonitorContact { request, .. } => format!(
            "ClientToken {} was already used for a different request ({m}); send a new EventId for a new request",
            request.client_token
        ),
        _ => format!(
            "Connect answered {} with an idempotency conflict ({m})",
            call.operation().as_str()
        ),
    };
    MonitorError::new(ErrorKind::IdempotencyConflict, message)
}

/// ResourceNotFoundException: once the contact is known live, what Connect did not find is the user.
fn not_found(m: &str, call: Call<'_>) -> MonitorError {
    let instance = call.instance_id();
    match call {
        Call::MonitorContact {
            request,
            contact_live: true,
            ..
        } => MonitorError::new(
            ErrorKind::SupervisorNotFound,
            format!(
                "Connect did not find user {} in instance {instance} ({m}) although contact {} is live: check the configured supervisor IDs (DEFAULT_SUPERVISOR_USER_ID, the pools)",
                request.user_id, request.contact_id
            ),
        ),
        Call::MonitorContact { request, .. } => MonitorError::new(
            ErrorKind::ContactNotFound,
            format!(
                "contact {}, user {} or the instance was not found ({m}); the contact may have ended",
                request.contact_id, request.user_id
            ),
        ),
        Call::DescribeContact { contact_id, .. } => MonitorError::new(
            ErrorKind::ContactNotFound,
            format!("contact {contact_id} or instance {instance} was not found ({m})"),
        ),
        Call::GetCurrentUserData { .. } => MonitorError::new(
            ErrorKind::ContactNotFound,
            format!("instance {instance} was not found ({m})"),
        ),
    }
}

/// ServiceQuotaExceededException from MonitorContact: the supervisor cannot monitor now.
fn unavailable_supervisor(m: &str, request: &MonitorRequest, pooled: bool) -> MonitorError {
    let message = if pooled {
        format!(
            "supervisor {} from the pool cannot monitor now ({m}): they logged out or reached their monitoring limit since GetCurrentUserData answered; retrying is safe: the next delivery ranks the pool again with the same ClientToken",
            request.user_id
        )
    } else {
        format!(
            "supervisor {} cannot monitor now ({m}): they are not logged in to the CCP or are at their monitoring limit; retry when they are available or choose another supervisor",
            request.user_id
        )
    };
    MonitorError::new(ErrorKind::SupervisorUnavailable, message)
}

/// Throttling on every attempt (and a read operation's quota answer): the shared request quota.
fn throttled(m: &str, action: &str) -> MonitorError {
    MonitorError::new(
        ErrorKind::Throttled,
        format!(
            "Connect throttled {action} on every attempt ({m}): the account's Connect API request quota for {action} was exceeded (it is per API, per account and region, and shared by every integration, the CCP's included); see it in Service Quotas (Amazon Connect, \"Rate of {action} API requests\") and ask for an increase there, or lower the other callers' rate; retrying the same event is safe (same ClientToken)"
        ),
    )
}

/// A Connect stand-in for unit tests: answers from a script, records every call.
#[cfg(test)]
pub(crate) mod scripted {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::Connect;
    use crate::connect::{ConnectFailure, ContactStatus, MonitorRequest, Monitoring, Operation, Present};

    #[derive(Default)]
    pub struct Scripted {
        /// Operations, in call order.
        pub ops: Mutex<Vec<Operation>>,
        pub requests: Mutex<Vec<MonitorRequest>>,
        /// MonitorContact's next answers; once empty, a new monitor each time.
        pub monitor: Mutex<VecDeque<Result<Monitoring, ConnectFailure>>>,
        /// DescribeContact's answer for every contact (default: live, inbound voice).
        pub status: Mutex<Option<Result<ContactStatus, ConnectFailure>>>,
        /// GetCurrentUserData's answer (default: nobody logged in).
        pub present: Mutex<Option<Result<Vec<Present>, ConnectFailure>>>,
        pub delay: Duration,
    }

    impl Scripted {
        pub fn ops(&self) -> Vec<Operation> {
            self.ops.lock().map(|o| o.clone()).unwrap_or_default()
        }

        pub fn requests(&self) -> Vec<MonitorRequest> {
            self.requests.lock().map(|r| r.clone()).unwrap_or_default()
        }

        pub fn answer_monitor(&self, answers: impl IntoIterator<Item = Result<Monitoring, ConnectFailure>>) {
            if let Ok(mut queue) = self.monitor.lock() {
                queue.extend(answers);
            }
        }

        pub fn answer_status(&self, answer: Result<ContactStatus, ConnectFailure>) {
            if let Ok(mut status) = self.status.lock() {
                *status = Some(answer);
            }
        }

        pub fn answer_present(&self, answer: Result<Vec<Present>, ConnectFailure>) {
            if let Ok(mut present) = self.present.lock() {
                *present = Some(answer);
            }
        }

        fn record(&self, op: Operation) {
            if let Ok(mut ops) = self.ops.lock() {
                ops.push(op);
            }
        }
    }

    /// A live inbound contact on `channel`.
    pub fn live(channel: &str) -> ContactStatus {
        ContactStatus {
            ended: false,
            initiation_method: Some("INBOUND".into()),
            channel: Some(channel.into()),
        }
    }

    impl Connect for Scripted {
        async fn start_monitoring(&self, request: &MonitorRequest) -> Result<Monitoring, ConnectFailure> {
            self.record(Operation::MonitorContact);
            let n = match self.requests.lock() {
                Ok(mut r) => {
                    r.push(request.clone());
                    r.len()
                }
                Err(_) => 0,
            };
            tokio::time::sleep(self.delay).await;
            let scripted = self.monitor.lock().ok().and_then(|mut q| q.pop_front());
            scripted.unwrap_or_else(|| {
                let id = format!("m{n}");
                Ok(Monitoring {
                    contact_arn: format!("arn:aws:connect:us-east-1:111122223333:instance/i1/contact/{id}"),
                    contact_id: id,
                })
            })
        }

        async fn contact_status(&self, _instance: &str, _contact: &str) -> Result<ContactStatus, ConnectFailure> {
            self.record(Operation::DescribeContact);
            tokio::time::sleep(self.delay).await;
            self.status
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_else(|| Ok(live("VOICE")))
        }

        async fn present_members(&self, _instance: &str, _users: &[String]) -> Result<Vec<Present>, ConnectFailure> {
            self.record(Operation::GetCurrentUserData);
            tokio::time::sleep(self.delay).await;
            self.present
                .lock()
                .ok()
                .and_then(|p| p.clone())
                .unwrap_or_else(|| Ok(Vec::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiers::Capabilities;

    fn request() -> MonitorRequest {
        MonitorRequest {
            instance_id: "i".into(),
            contact_id: "c".into(),
            user_id: "u".into(),
            capabilities: Capabilities::SilentMonitor,
            client_token: "t".into(),
        }
    }

    fn monitor(request: &MonitorRequest, pooled: bool, contact_live: bool) -> Call<'_> {
        Call::MonitorContact {
            request,
            pooled,
            contact_live,
        }
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
        let monitor_kinds = [
            InvalidEvent,
            IdempotencyConflict,
            AccessDenied,
            ContactNotFound,
            SupervisorUnavailable,
            Throttled,
            ConnectUnavailable,
        ];
        for pooled in [false, true] {
            assert_eq!(kinds(monitor(&request, pooled, false)), monitor_kinds);
            // Once DescribeContact has shown the contact live, what Connect did not find is the user.
            let mut live = monitor_kinds;
            live[3] = SupervisorNotFound;
            assert_eq!(kinds(monitor(&request, pooled, true)), live);
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
        let e = ConnectFailure::QuotaExceeded("m".into()).explain(monitor(&request, false, false));
        assert!(e.message.contains("not logged in to the CCP") && e.message.contains("monitoring limit"));
        let e = ConnectFailure::QuotaExceeded("m".into()).explain(monitor(&request, true, false));
        assert!(
            e.message.contains("from the pool") && e.message.contains("same ClientToken"),
            "{e}"
        );
        let e = ConnectFailure::NotFound("m".into()).explain(monitor(&request, false, true));
        assert!(
            e.message.contains("did not find user u") && e.message.contains("DEFAULT_SUPERVISOR_USER_ID"),
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
