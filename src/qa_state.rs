//! PROVISIONAL (replaced by the qa-state branch): the QA state seam's types, as the design fixes them.
#![allow(missing_docs, dead_code)]

pub struct Counter {
    pub pk: String,
    pub sk: String,
    pub limit: u32,
}
pub struct Claim {
    pub rule: String,
    pub contact_id: String,
    pub agent: Option<Counter>,
    pub reviewer: Option<Counter>,
    pub expires: i64,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Taken,
    Held,
    AgentFull { taken: u32 },
    ReviewerFull,
}
pub struct Record {
    pub contact_id: String,
    pub agent: String,
    pub reviewer: String,
    pub rule: String,
    pub event_type: String,
    pub event_time: String,
    pub started_at: String,
    pub monitor_arn: String,
    pub quota: Option<u32>,
    pub team: Option<String>,
    pub day: String,
    pub expires: i64,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError {
    pub message: String,
}
pub trait QaState {
    fn counts(&self, counters: &[(String, String)]) -> impl Future<Output = Result<Vec<u32>, StateError>> + Send;
    fn take(&self, claim: &Claim) -> impl Future<Output = Result<Taken, StateError>> + Send;
    fn give_back(&self, claim: &Claim) -> impl Future<Output = Result<(), StateError>> + Send;
    fn record(&self, claim: &Claim, record: &Record) -> impl Future<Output = Result<(), StateError>> + Send;
}
pub fn agent_counter(rule: &str, agent: &str, period: &str, limit: u32) -> Counter {
    Counter { pk: format!("agent#{rule}#{agent}"), sk: period.to_owned(), limit }
}
pub fn reviewer_counter(rule: &str, reviewer: &str, period: &str, limit: u32) -> Counter {
    Counter { pk: format!("reviewer#{rule}#{reviewer}"), sk: period.to_owned(), limit }
}
pub struct DynamoState;
impl QaState for DynamoState {
    async fn counts(&self, _: &[(String, String)]) -> Result<Vec<u32>, StateError> { Err(StateError { message: "provisional".into() }) }
    async fn take(&self, _: &Claim) -> Result<Taken, StateError> { Err(StateError { message: "provisional".into() }) }
    async fn give_back(&self, _: &Claim) -> Result<(), StateError> { Err(StateError { message: "provisional".into() }) }
    async fn record(&self, _: &Claim, _: &Record) -> Result<(), StateError> { Err(StateError { message: "provisional".into() }) }
}
