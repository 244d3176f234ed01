//! DynamoDB refusing a write, for the tests of what happens after Stripe said yes: an SDK
//! interceptor on a second client of the same DynamoDB Local table fails the n-th
//! TransactWriteItems after it is armed, before it is sent, as an outage would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use billing_shared::domain::entitlements::CapRules;
use billing_shared::store::Store;

use crate::TestApi;

#[derive(Debug, Clone, Default)]
pub struct RefusedTransactions {
    /// 0: disarmed; n: the n-th next TransactWriteItems is refused.
    countdown: Arc<AtomicUsize>,
}

impl RefusedTransactions {
    /// Refuses the `nth` TransactWriteItems from now (1 is the next), once.
    pub fn refuse(&self, nth: usize) {
        self.countdown.store(nth, Ordering::SeqCst);
    }
}

impl Intercept for RefusedTransactions {
    fn name(&self) -> &'static str {
        "refused_transactions"
    }

    fn read_before_execution(&self, context: &BeforeSerializationInterceptorContextRef<'_>, _: &mut ConfigBag) -> Result<(), BoxError> {
        if context.input().downcast_ref::<TransactWriteItemsInput>().is_none() {
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
        app.store = Store::new(aws_sdk_dynamodb::Client::from_conf(config), self.app.store.table(), rules);
        (TestApi::over(app), faults)
    }
}
