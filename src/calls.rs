//! The Connect calls' data: what the function asks Connect and what it keeps of the answers. Shared
//! by the pipeline that decides which calls to make and by the seam that makes them (`connect`), so
//! that neither depends on the other's types.

use crate::ids::Capabilities;

/// The three Connect operations the function uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// DescribeContact: the live check (`VERIFY_CONTACT`), or after a MonitorContact failure.
    DescribeContact,
    /// GetCurrentUserData: who of the pools is logged in and how busy.
    GetCurrentUserData,
    /// MonitorContact: the monitor itself.
    MonitorContact,
}

impl Operation {
    pub const ALL: [Operation; 3] = [
        Operation::DescribeContact,
        Operation::GetCurrentUserData,
        Operation::MonitorContact,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::DescribeContact => "DescribeContact",
            Operation::GetCurrentUserData => "GetCurrentUserData",
            Operation::MonitorContact => "MonitorContact",
        }
    }

    /// Position in [`Operation::ALL`], for per-operation counters.
    pub fn index(self) -> usize {
        match self {
            Operation::DescribeContact => 0,
            Operation::GetCurrentUserData => 1,
            Operation::MonitorContact => 2,
        }
    }
}

/// The MonitorContact call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRequest {
    pub instance_id: String,
    pub contact_id: String,
    pub user_id: String,
    pub capabilities: Capabilities,
    pub client_token: String,
}

/// The monitoring contact MonitorContact created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub contact_id: String,
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
    pub user_id: String,
    /// Contacts the user is monitoring now (their contacts with initiation method MONITOR that have
    /// not ended); contacts they handle as an agent do not count.
    pub monitoring: u32,
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
