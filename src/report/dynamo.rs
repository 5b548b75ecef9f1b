//! The report's reads: one DynamoDB Query per page of a record partition, through the state table's
//! client as the function builds it (`qa_state::DynamoState::new`: the SDK set up by `sdk::load`, so the
//! region, credentials and `AWS_ENDPOINT_URL_DYNAMODB` come from the environment as for the function).

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::{Entry, Failure, Page, Records};
use crate::qa_state::DynamoState;
use crate::sdk;

/// Items per Query page. Records are about 500 bytes: a page of 200 is about 100 KB, which comes well
/// within the state client's one-second attempt time-out over an operator's connection, where a full
/// 1 MB page might not.
pub const PAGE_ITEMS: i32 = 200;

/// A DynamoDB key (LastEvaluatedKey, ExclusiveStartKey).
pub type Key = HashMap<String, AttributeValue>;

/// The record partitions of one table.
#[derive(Debug, Clone)]
pub struct DynamoRecords {
    state: DynamoState,
    region: String,
}

impl DynamoRecords {
    /// The state table `table`, with the SDK set up from `env` as the function sets it up. Fails without
    /// a region (nothing could be signed).
    pub async fn open(table: &str, env: impl Fn(&str) -> Option<String> + Copy) -> Result<DynamoRecords, Failure> {
        let http = sdk::http_client(sdk::system_roots_requested(env)).map_err(|e| Failure::Run(e.message))?;
        let sdk = sdk::load(http, env).await;
        let Some(region) = sdk.region().map(|r| r.as_ref().to_owned()) else {
            return Err(Failure::Run(
                "no AWS region: set AWS_REGION to the region of the stack (or use a profile that has one)".into(),
            ));
        };
        Ok(DynamoRecords {
            state: DynamoState::new(&sdk, table),
            region,
        })
    }

    fn failure(&self, error: &SdkError<QueryError, HttpResponse>) -> Failure {
        let table = self.state.table();
        let region = &self.region;
        Failure::Run(match error.code() {
            Some(code @ "ResourceNotFoundException") => format!(
                "table {table} was not found in {region} ({code}): check --table (the stack's output QaStateTableName) and AWS_REGION"
            ),
            Some(code @ ("AccessDeniedException" | "UnrecognizedClientException" | "ExpiredTokenException")) => {
                format!(
                    "reading table {table} in {region} was refused ({code}): the credentials need dynamodb:Query on it"
                )
            }
            _ => format!("cannot read table {table} in {region}: {}", DisplayErrorContext(error)),
        })
    }
}

impl Records for DynamoRecords {
    type Key = Key;

    async fn page(&self, partition: &str, from: Option<Key>) -> Result<Page<Key>, Failure> {
        let answer = self
            .state
            .client()
            .query()
            .table_name(self.state.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
            .set_exclusive_start_key(from)
            .limit(PAGE_ITEMS)
            .send()
            .await
            .map_err(|e| self.failure(&e))?;
        Ok(Page {
            items: answer.items().iter().map(entry).collect(),
            next: answer.last_evaluated_key().filter(|k| !k.is_empty()).cloned(),
        })
    }
}

/// A record item as an [`Entry`], or why it is not one (naming its sort key: `<event time>#<contact>`).
pub fn entry(item: &HashMap<String, AttributeValue>) -> Result<Entry, String> {
    let sk = match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.as_str(),
        _ => "without sk",
    };
    read_entry(item).map_err(|why| format!("item {sk}: {why}"))
}

fn read_entry(item: &HashMap<String, AttributeValue>) -> Result<Entry, String> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok((!value.is_empty()).then(|| value.clone())),
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => Err(format!("{name} is not a string")),
    };
    let required = |name: &str| text(name)?.ok_or_else(|| format!("{name} is missing"));
    let event_time = required("eventTime")?;
    let event_time = event_time
        .parse::<Timestamp>()
        .map_err(|_| format!("eventTime {event_time:?} is not an RFC 3339 time"))?;
    let quota = match item.get("quota") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::N(n)) => Some(n.parse::<u32>().map_err(|_| format!("quota {n:?} is not a count"))?),
        Some(_) => return Err("quota is not a number".into()),
    };
    Ok(Entry {
        contact: required("contact")?,
        agent: required("agent")?,
        reviewer: required("reviewer")?,
        event_time,
        quota,
        team: text("team")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    fn item() -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), s("record#weekly-qa#2026-12-01")),
            ("sk".to_owned(), s("2026-12-01T09:00:00Z#c1")),
            ("contact".to_owned(), s("c1")),
            ("agent".to_owned(), s("a1")),
            ("reviewer".to_owned(), s("r1")),
            ("rule".to_owned(), s("weekly-qa")),
            ("eventType".to_owned(), s("CONNECTED_TO_AGENT")),
            ("eventTime".to_owned(), s("2026-12-01T09:00:00Z")),
            ("startedAt".to_owned(), s("2026-12-01T09:00:01.250Z")),
            (
                "monitorArn".to_owned(),
                s("arn:aws:connect:us-east-1:111122223333:instance/i/contact/m1"),
            ),
            ("quota".to_owned(), AttributeValue::N("3".into())),
            ("team".to_owned(), s("t1")),
            ("expires".to_owned(), AttributeValue::N("1799999999".into())),
        ])
    }

    #[test]
    fn a_record_item_is_an_entry() {
        assert_eq!(
            entry(&item()),
            Ok(Entry {
                contact: "c1".into(),
                agent: "a1".into(),
                reviewer: "r1".into(),
                event_time: "2026-12-01T09:00:00Z".parse().unwrap_or_else(|e| panic!("{e}")),
                quota: Some(3),
                team: Some("t1".into()),
            })
        );
        let mut bare = item();
        bare.remove("quota");
        bare.remove("team");
        let bare = entry(&bare).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (bare.quota, bare.team),
            (None, None),
            "a rule without perAgent, an agent without a team"
        );
    }

    #[test]
    fn what_is_not_a_record_says_why() {
        let with = |name: &str, value: Option<AttributeValue>| {
            let mut item = item();
            match value {
                Some(value) => item.insert(name.to_owned(), value),
                None => item.remove(name),
            };
            entry(&item).err().unwrap_or_default()
        };
        let sk = "item 2026-12-01T09:00:00Z#c1: ";
        assert_eq!(with("agent", None), format!("{sk}agent is missing"));
        assert_eq!(with("agent", Some(s(""))), format!("{sk}agent is missing"));
        assert_eq!(
            with("reviewer", Some(AttributeValue::N("1".into()))),
            format!("{sk}reviewer is not a string")
        );
        assert_eq!(
            with("eventTime", Some(s("yesterday"))),
            format!("{sk}eventTime \"yesterday\" is not an RFC 3339 time")
        );
        assert_eq!(
            with("quota", Some(AttributeValue::N("-1".into()))),
            format!("{sk}quota \"-1\" is not a count")
        );
        assert_eq!(with("quota", Some(s("3"))), format!("{sk}quota is not a number"));
        assert_eq!(
            with("team", Some(AttributeValue::Bool(true))),
            format!("{sk}team is not a string")
        );
        let mut keyless = item();
        keyless.clear();
        assert_eq!(
            entry(&keyless).err().as_deref(),
            Some("item without sk: eventTime is missing")
        );
    }
}
