//! DynamoDB seen and refused from the client's side: an SDK interceptor on a second client of
//! the same DynamoDB Local table records every call's operation and fails the n-th
//! TransactWriteItems after it is armed, before it is sent, as an outage would (the tests of
//! what happens after Stripe said yes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use billing_shared::domain::entitlements::CapRules;
use billing_shared::store::Store;

use crate::TestApi;

#[derive(Debug, Clone, Default)]
pub struct RefusedTransactions {
    /// 0: disarmed; n: the n-th next TransactWriteItems is refused.
    countdown: Arc<AtomicUsize>,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl RefusedTransactions {
    /// Refuses the `nth` TransactWriteItems from now (1 is the next), once.
    pub fn refuse(&self, nth: usize) {
        self.countdown.store(nth, Ordering::SeqCst);
    }

    /// The operations called since the last `take_calls`, in order.
    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }
}

impl Intercept for RefusedTransactions {
    fn name(&self) -> &'static str {
        "refused_transactions"
    }

    fn read_before_execution(&self, context: &BeforeSerializationInterceptorContextRef<'_>, _: &mut ConfigBag) -> Result<(), BoxError> {
        let input = context.input();
        let operation = match () {
            _ if input.downcast_ref::<GetItemInput>().is_some() => "GetItem",
            _ if input.downcast_ref::<BatchGetItemInput>().is_some() => "BatchGetItem",
            _ if input.downcast_ref::<UpdateItemInput>().is_some() => "UpdateItem",
            _ if input.downcast_ref::<PutItemInput>().is_some() => "PutItem",
            _ if input.downcast_ref::<QueryInput>().is_some() => "Query",
            _ if input.downcast_ref::<TransactWriteItemsInput>().is_some() => "TransactWriteItems",
            _ => "other",
        };
        self.calls.lock().unwrap().push(operation);
        if operation != "TransactWriteItems" {
            return Ok(());
        }
        match self.countdown.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(1) => Err("DynamoDB refused this write (a test fault)".into()),
            _ => Ok(()),
        }
    }
}

impl TestApi {
    /// The same API and table, through a DynamoDB client whose transactions the returned
    /// handle can make fail.
    pub fn with_refusable_transactions(&self) -> (TestApi, RefusedTransactions) {
        let faults = RefusedTransactions::default();
        let config = aws_sdk_dynamodb::config::Builder::from(&self.app.sdk).interceptor(faults.clone()).build();
        let rules = CapRules { catalog: self.app.config.catalog.clone(), grace_secs: self.app.config.past_due_grace_secs };
        let mut app = self.app.clone();
        app.store = Store::new(aws_sdk_dynamodb::Client::from_conf(config), self.app.store.table(), rules)
            .with_activity_retention_days(self.app.config.activity_retention_days);
        (TestApi::over(app), faults)
    }
}
