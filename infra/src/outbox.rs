//! The outbox, locally: what AWS does between the table and the bus. `LocalBus` makes the bus
//! in moto with a rule forwarding every billing event to an SQS queue; `StreamPump` reads the
//! table's stream in DynamoDB Local, keeps the records the stream functions' filters keep (new
//! items under `ACTIVITY#`) and hands them to a stream function's own code (the publisher's, the
//! automatic top-up's), redelivering from the first record it reports failed, as Lambda's event
//! source mapping does. Each function reads the stream with a pump of its own.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};
use billing_shared::billing::publish::{Streamed, publish};
use billing_shared::bus::EventBus;
use billing_shared::domain::activity::{Activity, EVENT_SOURCE};
use billing_shared::store::ACTIVITY_PREFIX;
use serde_json::Value;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A bus in moto with a rule that forwards the billing events to a queue.
pub struct LocalBus {
    pub bus: EventBus,
    pub bus_name: String,
    sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl LocalBus {
    /// Creates (or finds) the bus `name`, the queue `name-events` and the rule between them.
    pub async fn create(sdk: &SdkConfig, name: &str) -> Result<Self, BoxError> {
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        if events.describe_event_bus().name(name).send().await.is_err() {
            events.create_event_bus().name(name).send().await?;
        }
        let queue_url = sqs.create_queue().queue_name(format!("{name}-events")).send().await?.queue_url.unwrap_or_default();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn =
            attributes.attributes.unwrap_or_default().remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).unwrap_or_default();
        let rule = format!("{name}-to-queue");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(name)
            .event_pattern(serde_json::json!({ "source": [EVENT_SOURCE] }).to_string())
            .send()
            .await?;
        let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build()?;
        events.put_targets().rule(&rule).event_bus_name(name).targets(target).send().await?;
        Ok(Self { bus: EventBus::new(sdk, name), bus_name: name.to_string(), sqs, queue_url })
    }

    /// The events the queue holds now (EventBridge's envelopes), taken off it.
    pub async fn drain(&self) -> Result<Vec<Value>, BoxError> {
        let mut events = Vec::new();
        loop {
            let out = self.sqs.receive_message().queue_url(&self.queue_url).max_number_of_messages(10).send().await?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(events);
            }
            for message in messages {
                events.push(serde_json::from_str(message.body().unwrap_or("null"))?);
                if let Some(receipt) = message.receipt_handle() {
                    self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(receipt).send().await?;
                }
            }
        }
    }
}

/// Reads one table's stream from where it last stopped.
pub struct StreamPump {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// The next iterator of every shard seen (`None`: a closed shard read to its end).
    iterators: HashMap<String, Option<String>>,
    /// Records the publisher reported failed, to deliver again before newer ones.
    pending: Vec<Streamed>,
}

impl StreamPump {
    pub async fn new(sdk: &SdkConfig, table: &str) -> Result<Self, BoxError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let described = dynamodb.describe_table().table_name(table).send().await?;
        let stream_arn = described.table.and_then(|t| t.latest_stream_arn).ok_or("the table has no stream (StreamSpecification)")?;
        Ok(Self { streams: aws_sdk_dynamodbstreams::Client::new(sdk), stream_arn, iterators: HashMap::new(), pending: Vec::new() })
    }

    /// The activity records written since the last read, in stream order.
    async fn read(&mut self) -> Result<Vec<Streamed>, BoxError> {
        let described = self.streams.describe_stream().stream_arn(&self.stream_arn).send().await?;
        let shards = described.stream_description.map(|d| d.shards.unwrap_or_default()).unwrap_or_default();
        let mut records = Vec::new();
        for shard in shards {
            let Some(shard_id) = shard.shard_id else { continue };
            if !self.iterators.contains_key(&shard_id) {
                let iterator = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&shard_id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await?;
                self.iterators.insert(shard_id.clone(), iterator.shard_iterator);
            }
            while let Some(Some(iterator)) = self.iterators.get(&shard_id).cloned() {
                let out = self.streams.get_records().shard_iterator(iterator).send().await?;
                let got = out.records.unwrap_or_default();
                let done = got.is_empty();
                for record in got {
                    let Some(change) = record.dynamodb else { continue };
                    let is_activity = change
                        .keys
                        .as_ref()
                        .and_then(|k| k.get("SK"))
                        .and_then(|sk| sk.as_s().ok())
                        .is_some_and(|sk| sk.starts_with(ACTIVITY_PREFIX));
                    if record.event_name == Some(OperationType::Insert) && is_activity {
                        let image = serde_dynamo::Item::from(change.new_image.unwrap_or_default());
                        records.push(Streamed { sequence_number: change.sequence_number.unwrap_or_default(), image });
                    }
                }
                self.iterators.insert(shard_id.clone(), out.next_shard_iterator);
                if done {
                    break;
                }
            }
        }
        Ok(records)
    }

    /// Publishes what the stream holds (after any records left from a failed delivery) through
    /// the publisher; the activities it put on the bus.
    pub async fn pump(&mut self, bus: &EventBus) -> Result<Vec<Activity>, BoxError> {
        let delivered = self.deliver(|batch| publish(bus, batch)).await?;
        let delivered = delivered.into_iter().filter_map(|r| serde_dynamo::from_item::<_, Activity>(r.image).ok());
        Ok(delivered.filter(|activity| activity.event.on_bus()).collect())
    }

    /// Hands what the stream holds (after any records left from a failed delivery) to
    /// `consumer`, a stream function's own code, which answers the sequence numbers to deliver
    /// again; the records it took.
    pub async fn deliver<F, Fut>(&mut self, consumer: F) -> Result<Vec<Streamed>, BoxError>
    where
        F: FnOnce(Vec<Streamed>) -> Fut,
        Fut: std::future::Future<Output = Vec<String>>,
    {
        let mut batch = std::mem::take(&mut self.pending);
        batch.extend(self.read().await?);
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let failed = consumer(batch.clone()).await;
        let first_failed = batch.iter().position(|r| failed.first() == Some(&r.sequence_number)).unwrap_or(batch.len());
        self.pending = batch.split_off(first_failed);
        Ok(batch)
    }
}
