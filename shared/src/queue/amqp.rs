//! The RabbitMQ dispatch queue: web publishes the id of each new message (persistent, publisher
//! confirmed); workers consume them. The queue only carries wake-ups: the message is already in
//! the database, so a publish that fails costs latency (the sweeper finds the message), never data.

use crate::db::redact_url;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

/// Persistent delivery mode (survives a broker restart).
const PERSISTENT: u8 = 2;

/// Opens a channel with publisher confirms on a new connection and declares the queue.
pub async fn open_channel(url: &str, queue: &str, quorum: bool) -> Result<(Connection, Channel), lapin::Error> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    declare(&channel, queue, quorum).await?;
    Ok((connection, channel))
}

/// Declares Herald's durable dispatch queue (a quorum queue when asked).
pub async fn declare(channel: &Channel, queue: &str, quorum: bool) -> Result<(), lapin::Error> {
    let mut arguments = FieldTable::default();
    if quorum {
        arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    }
    let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.into(), options, arguments).await?;
    Ok(())
}

/// Publishes dispatch jobs; reconnects on the next publish after a failure.
pub struct Publisher {
    url: String,
    queue: String,
    quorum: bool,
    open: Mutex<Option<(Connection, Channel)>>,
}

impl Publisher {
    /// A publisher for `queue` on the broker at `url`; connects on first use.
    pub fn new(url: &str, queue: &str, quorum: bool) -> Self {
        Publisher { url: url.to_owned(), queue: queue.to_owned(), quorum, open: Mutex::new(None) }
    }

    async fn channel(&self) -> Result<Channel, String> {
        let mut open = self.open.lock().await;
        if let Some((_, channel)) = open.as_ref().filter(|(c, ch)| c.status().connected() && ch.status().connected()) {
            return Ok(channel.clone());
        }
        let (connection, channel) = open_channel(&self.url, &self.queue, self.quorum)
            .await
            .map_err(|e| format!("broker {}: {e}", redact_url(&self.url)))?;
        *open = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Publishes one job and waits for the broker's confirmation.
    pub async fn publish(&self, message_id: &str) -> Result<(), String> {
        let channel = self.channel().await?;
        let properties = BasicProperties::default().with_delivery_mode(PERSISTENT);
        let confirm = channel
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                BasicPublishOptions::default(),
                message_id.as_bytes(),
                properties,
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        if confirm.is_nack() { Err("the broker refused the message".into()) } else { Ok(()) }
    }
}
