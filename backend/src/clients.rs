//! Who a request comes from, and how much each client may ask: the budgets of the API and
//! the relay.

pub mod address;
pub mod budget;
pub mod read_budget;
pub mod settings;
pub mod write_budget;
