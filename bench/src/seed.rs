//! The data every measured request finds: the table from template.yaml, one org with a Stripe
//! customer (in the stand-in) and one HUMAN API key, created through the project's own store
//! and Stripe gateway so items look exactly as in production.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use billing_infra::template::Template;
use billing_shared::org::{Org, PrincipalKind};
use billing_shared::store::{PK, SK, Store};
use billing_shared::stripe::StripeGateway;
use billing_shared::{auth, now};
use url::Url;

use crate::stripe::SECRET_KEY;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

const TABLE: &str = "billing-bench";
const ORG_ID: &str = "bench";
const PRINCIPAL_ID: &str = "bench-owner";
/// DynamoDB Local is a JVM: this many reads before measuring let its JIT settle.
const WARM_UP_READS: usize = 500;

pub struct Fixture {
    pub table: String,
    pub org_id: String,
    pub principal_id: String,
    pub kind: PrincipalKind,
    /// The bearer token of the key (the authorizer resolves it with one GetItem).
    pub token: String,
    /// The org item's key (as `shared/src/store.rs` lays it out): the floor reads this item,
    /// the same one `GET /billing` reads.
    pub org_item: (String, String),
}

/// Seeds the table in the DynamoDB Local `client` talks to, and the customer in the Stripe at `stripe_base`.
pub async fn seed(client: &Client, stripe_base: &str) -> Result<Fixture, Error> {
    Template::built_in().create_table(client, TABLE).await?;
    let store = Store::new(client.clone(), TABLE);
    let name = "Benchmark Org";
    let customer = StripeGateway::new(SECRET_KEY, &Url::parse(stripe_base)?)?.create_customer(ORG_ID, name).await?;
    store.create_org(&Org { stripe_customer_id: Some(customer), ..Org::new(ORG_ID, name, now()) }).await?;
    let key = auth::issue(ORG_ID, PRINCIPAL_ID, PrincipalKind::Human, now())?;
    store.put_api_key(&key.record).await?;
    let fixture = Fixture {
        table: TABLE.to_string(),
        org_id: ORG_ID.to_string(),
        principal_id: PRINCIPAL_ID.to_string(),
        kind: PrincipalKind::Human,
        token: key.token,
        org_item: (format!("ORG#{ORG_ID}"), "ORG".to_string()),
    };
    for _ in 0..WARM_UP_READS {
        let (pk, sk) = fixture.org_item.clone();
        let out = client.get_item().table_name(TABLE).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk)).send().await?;
        if out.item.is_none() {
            return Err("the seeded org item is not where the floor will look for it".into());
        }
    }
    Ok(fixture)
}
