//! Giving a failed SQS record back to its queue in seconds: ChangeMessageVisibilityBatch on the
//! receipts of the records whose retry can help soon (`SQS_RETRY_DELAY_SECONDS`).
//!
//! Without it a record reported as a batch item failure waits out the queue's visibility timeout
//! (270 s in the template): by then its contact has usually ended and its event is older than
//! `MAX_EVENT_AGE_SECONDS`. See docs/how-it-decides.md (Retries) and docs/decisions.md.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;

use crate::config::Config;
use crate::sdk::{retry_config, timeout_config};

/// The time a batch keeps, before its deadline, to give records back: the Connect calls stop this
/// much earlier (of a 40 s batch timeout).
pub const REQUEUE_TIME: Duration = Duration::from_millis(500);

/// ChangeMessageVisibilityBatch's limit of entries per call.
const BATCH_ENTRIES: usize = 10;

/// The longest wait, as a multiple of `SQS_RETRY_DELAY_SECONDS`: the third receive's.
const MAX_GROWTH: u32 = 4;

/// One SQS record to give back: where it came from and how long it stays invisible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    /// The record's `eventSourceARN`: its queue.
    pub queue_arn: String,
    /// The record's `receiptHandle` (valid while the record is in flight).
    pub receipt_handle: String,
    /// Seconds from now until SQS delivers it again.
    pub visible_in: u32,
}

/// How long a record that failed on its `receive_count`-th receive stays invisible: `base` doubled
/// for each receive before, at most [`MAX_GROWTH`] × `base`, then jittered into its upper half
/// (`unit` in [0, 1)) so that the records of one throttled batch do not all come back at once.
/// Whole seconds (what SQS takes), at least 1.
pub fn visible_in(base: Duration, receive_count: u32, unit: f64) -> u32 {
    let doublings = receive_count.saturating_sub(1).min(MAX_GROWTH.ilog2());
    let ceiling = base.as_secs_f64() * f64::from(1u32 << doublings);
    let seconds = ceiling * (0.5 + 0.5 * unit.clamp(0.0, 1.0));
    // At most 4 × 300 s (the setting's range): far below u32::MAX.
    (seconds.round() as u32).max(1)
}

/// The queue URL of an SQS queue ARN (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`), which
/// ChangeMessageVisibility takes; `None` for anything else.
pub fn queue_url(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, name) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = prefix == "arn"
        && service == "sqs"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    let domain = match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return None,
    };
    valid.then(|| format!("https://sqs.{region}.{domain}/{account}/{name}"))
}

/// The SQS seam: ChangeMessageVisibilityBatch over the SDK's SQS client.
#[derive(Debug, Clone)]
pub struct Requeue {
    client: aws_sdk_sqs::Client,
    /// `SQS_RETRY_DELAY_SECONDS`.
    pub delay: Duration,
}

impl Requeue {
    /// The client, from the loaded SDK configuration (`sdk::load`; `AWS_ENDPOINT_URL_SQS` where set),
    /// with no SDK retries: a record whose visibility could not be changed still comes back, after
    /// the queue's visibility timeout.
    pub fn new(sdk: &SdkConfig, delay: Duration) -> Requeue {
        let config = aws_sdk_sqs::config::Builder::from(sdk)
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .build();
        Requeue {
            client: aws_sdk_sqs::Client::from_conf(config),
            delay,
        }
    }

    /// The client `config` needs: one when `SQS_RETRY_DELAY_SECONDS` is set, none otherwise.
    pub fn for_config(config: &Config, sdk: &SdkConfig) -> Option<Requeue> {
        config.sqs_retry_delay.map(|delay| Requeue::new(sdk, delay))
    }

    /// Changes the visibility of `records`, ten per call, queue by queue. Returns how many SQS
    /// accepted; the first error met, if any, says why the others were not.
    pub async fn give_back(&self, records: &[Requeued]) -> (usize, Option<String>) {
        let mut queues: Vec<&str> = records.iter().map(|r| r.queue_arn.as_str()).collect();
        queues.sort_unstable();
        queues.dedup();
        let (mut done, mut error) = (0, None);
        for arn in queues {
            let Some(url) = queue_url(arn) else {
                error.get_or_insert_with(|| "a record's eventSourceARN is not an SQS queue ARN".to_owned());
                continue;
            };
            let mine: Vec<&Requeued> = records.iter().filter(|r| r.queue_arn == arn).collect();
            for chunk in mine.chunks(BATCH_ENTRIES) {
                match self.change(&url, chunk).await {
                    Ok(accepted) => done += accepted,
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
            }
        }
        (done, error)
    }

    /// One ChangeMessageVisibilityBatch call: how many entries SQS accepted.
    async fn change(&self, url: &str, chunk: &[&Requeued]) -> Result<usize, String> {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, record)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&record.receipt_handle)
                    .visibility_timeout(i32::try_from(record.visible_in).unwrap_or(i32::MAX))
                    .build()
                    .map_err(|e| format!("ChangeMessageVisibilityBatch: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ChangeMessageVisibilityBatch: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        if let Some(failed) = output.failed().first() {
            return Err(format!(
                "ChangeMessageVisibilityBatch refused an entry: {}",
                failed.code()
            ));
        }
        Ok(output.successful().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_per_receive_up_to_four_times_the_delay_jittered_into_its_upper_half() {
        let base = Duration::from_secs(10);
        assert_eq!(visible_in(base, 1, 0.0), 5);
        assert_eq!(visible_in(base, 1, 0.999), 10);
        assert_eq!(visible_in(base, 2, 0.999), 20);
        assert_eq!(visible_in(base, 3, 0.999), 40);
        assert_eq!(visible_in(base, 9, 0.999), 40, "no more than 4 × the delay");
        assert_eq!(visible_in(base, 0, 0.5), 8, "a missing count is a first receive");
        assert_eq!(visible_in(Duration::from_secs(1), 1, 0.0), 1, "at least a second");
    }

    #[test]
    fn a_queue_arn_gives_its_url_in_its_partition() {
        assert_eq!(
            queue_url("arn:aws:sqs:eu-west-2:123456789012:monitor-contact-automation").as_deref(),
            Some("https://sqs.eu-west-2.amazonaws.com/123456789012/monitor-contact-automation")
        );
        assert_eq!(
            queue_url("arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo").as_deref(),
            Some("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo")
        );
        for bad in [
            "",
            "arn:aws:sns:eu-west-2:123456789012:topic",
            "arn:aws:sqs:eu-west-2:12345:q",
            "arn:aws:sqs::123456789012:q",
            "arn:aws:sqs:eu-west-2:123456789012:",
            "arn:aws:sqs:eu-west-2:123456789012:q/../x",
            "arn:other:sqs:eu-west-2:123456789012:q",
        ] {
            assert_eq!(queue_url(bad), None, "{bad}");
        }
    }
}
